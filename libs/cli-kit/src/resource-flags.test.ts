// run/create's cgroup flags as Docker's CLI reads them.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseCommandLine, type CommandDef } from './command';
import { buildRunRequest, RUN_COMMAND } from './run-request';

const ROOT: CommandDef = { name: 'berth', usage: '[OPTIONS] COMMAND', description: 'berth', subcommands: [RUN_COMMAND] };
const run = (...argv: string[]) => buildRunRequest(parseCommandLine(ROOT, ['run', ...argv]), { lookupEnv: () => undefined, readFile: () => '', cwd: '/' });
function field(...argv: string[]): string | undefined {
  try { run(...argv); } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    return (e as { field?: string }).field;
  }
  throw new Error(`expected ${argv.join(' ')} to fail`);
}

describe('cgroup flags', () => {
  it('fills the HostConfig fields, sizes with units, devices as PATH:RATE', () => {
    const h = run('--memory', '64m', '--memory-reservation', '32m', '--memory-swappiness', '0', '--kernel-memory', '8m', '--oom-kill-disable',
      '--cpu-period', '50000', '--cpu-quota', '25000', '--cpuset-mems', '0-1', '--blkio-weight', '500', '--blkio-weight-device', '/dev/sda:200',
      '--device-read-bps', '/dev/sda:1mb', '--device-write-bps', '/dev/sda:512k', '--device-read-iops', '/dev/sda:100', '--device-write-iops', '/dev/sdb:7', 'alpine').hostConfig;
    expect(h).toMatchObject({
      memoryReservation: 32 << 20, memorySwappiness: 0, kernelMemory: 8 << 20, oomKillDisable: true, cpuPeriod: 50000, cpuQuota: 25000, cpusetMems: '0-1',
      blkioWeight: 500, blkioWeightDevice: [{ path: '/dev/sda', weight: 200 }], blkioDeviceReadBps: [{ path: '/dev/sda', rate: 1 << 20 }],
      blkioDeviceWriteBps: [{ path: '/dev/sda', rate: 512 << 10 }], blkioDeviceReadIops: [{ path: '/dev/sda', rate: 100 }], blkioDeviceWriteIops: [{ path: '/dev/sdb', rate: 7 }],
    });
    // Not given: absent (the default -1 of --memory-swappiness is "the kernel's").
    expect(run('alpine').hostConfig.memorySwappiness).toBeUndefined();
  });

  it('refuses bad values naming the flag', () => {
    expect(field('--memory-swappiness', '101', 'alpine')).toBe('memory-swappiness');
    expect(field('--cpu-period', '10', 'alpine')).toBe('cpu-period');
    expect(field('--cpu-quota', '5', 'alpine')).toBe('cpu-quota');
    expect(field('--blkio-weight', '1001', 'alpine')).toBe('blkio-weight');
    expect(field('--blkio-weight-device', '/dev/sda', 'alpine')).toBe('blkio-weight-device');
    expect(field('--device-read-bps', 'sda:1mb', 'alpine')).toBe('device-read-bps');
    expect(field('--device-read-iops', '/dev/sda:1mb', 'alpine')).toBe('device-read-iops');
    expect(field('--cpuset-mems', 'x', 'alpine')).toBe('cpuset-mems');
    expect(field('--memory-reservation', 'lots', 'alpine')).toBe('memory-reservation');
    expect(field('--memory', '16m', '--memory-reservation', '32m', 'alpine')).toBe('memory-reservation');
    expect(field('--cpus', '1', '--cpu-period', '50000', 'alpine')).toBe('cpus');
  });
});
