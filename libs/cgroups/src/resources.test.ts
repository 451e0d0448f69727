import { describe, it, expect } from 'vitest';
import { isInvalidArgument, type BerthError } from '@berth/errors';
import { validateResources, mergeResources, formatBytes, type LinuxResources } from './resources';

function error(r: LinuxResources, cpus = 2): BerthError {
  try {
    validateResources(r, cpus);
  } catch (e) {
    return e as BerthError;
  }
  throw new Error('accepted');
}

describe('validateResources: ranges, with the field named', () => {
  it.each<[string, LinuxResources, string]>([
    ['memory below 6 MiB', { memory: { limit: 4096 } }, 'memory.limit: 4096 is below the minimum of 6 MiB'],
    ['shares too low', { cpu: { shares: 1 } }, 'cpu.shares: must be 2..262144, got 1'],
    ['shares too high', { cpu: { shares: 262145 } }, 'cpu.shares: must be 2..262144, got 262145'],
    ['period too short', { cpu: { period: 999 } }, 'cpu.period: must be 1000..1000000 microseconds, got 999'],
    ['quota too small', { cpu: { quota: 10 } }, 'cpu.quota: must be -1 (unlimited) or at least 1000 microseconds, got 10'],
    ['more CPUs than the host', { cpu: { quota: 300000, period: 100000 } }, 'cpu.quota: 300000us per 100000us period is 3.00 CPUs, but only 2 are available (range 0.01..2.00)'],
    ['bad cpuset', { cpu: { cpus: '0-' } }, 'cpu.cpus: "0-" is not a cpuset list (like "0-2,4")'],
    ['swap without limit', { memory: { swap: 1 << 30 } }, 'memory.swap: a swap limit needs a memory.limit too (swap is memory+swap, as in Docker)'],
    ['swap below limit', { memory: { limit: 64 << 20, swap: 32 << 20 } }, 'memory.swap: 32 MiB is below memory.limit 64 MiB; memory.swap is memory+swap and must be >= memory.limit'],
    ['swappiness', { memory: { swappiness: 101 } }, 'memory.swappiness: must be 0..100, got 101'],
    ['reservation above limit', { memory: { limit: 64 << 20, reservation: 128 << 20 } }, 'memory.reservation: 128 MiB is above memory.limit 64 MiB; the reservation must not exceed the limit'],
    ['pids', { pids: { limit: -5 } }, 'pids.limit: must be -1 or 0 (unlimited) or a positive count, got -5'],
    ['blkio weight', { blockIO: { weight: 5 } }, 'blockIO.weight: must be 10..1000, got 5'],
    ['device weight', { blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 2000 }] } }, 'blockIO.weightDevice[0].weight: must be 10..1000, got 2000'],
    ['negative rate', { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: -1 }] } }, 'blockIO.throttleReadBpsDevice[0].rate: must be >= 0, got -1'],
    ['fractional bytes', { memory: { limit: 1.5 * 2 ** 30 + 0.5 } }, 'memory.limit: must be an integer, got 1610612736.5'],
  ])('%s', (_what, r, message) => {
    const e = error(r);
    expect(isInvalidArgument(e)).toBe(true);
    expect(e.message).toBe(message);
    expect(e.field).toBe(message.split(':')[0]);
  });

  it('accepts the unlimited spellings and a full valid spec', () => {
    expect(() =>
      validateResources(
        {
          cpu: { shares: 1024, quota: -1, period: 100000, cpus: '0-1', mems: '0' },
          memory: { limit: -1, swap: -1, reservation: -1, swappiness: 60 },
          pids: { limit: 0 },
          blockIO: { weight: 500, throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }] },
        },
        2,
      ),
    ).not.toThrow();
    expect(() => validateResources({ memory: { limit: 6 * 1024 * 1024 } })).not.toThrow();
  });

  it('formats byte counts for messages', () => {
    expect(formatBytes(4096)).toBe('4 KiB');
    expect(formatBytes(64 * 2 ** 20)).toBe('64 MiB');
    expect(formatBytes(43261952)).toBe('41.3 MiB');
    expect(formatBytes(100)).toBe('100');
  });

  it('merges an update over the stored spec field by field', () => {
    const merged = mergeResources({ cpu: { shares: 512, quota: 50000 }, memory: { limit: 100 } }, { cpu: { quota: 20000 }, pids: { limit: 5 } });
    expect(merged).toEqual({ cpu: { shares: 512, quota: 20000 }, memory: { limit: 100 }, pids: { limit: 5 } });
  });
});
