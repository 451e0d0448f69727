import { describe, it, expect } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseBytes, parseCpus, cpusToQuota } from './units';

describe('parseBytes (Docker/go-units RAMInBytes)', () => {
  it.each([
    ['64m', 64 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1G', 1024 ** 3],
    ['512k', 512 * 1024],
    ['512kb', 512 * 1024],
    ['512KiB', 512 * 1024],
    ['100', 100],
    ['100b', 100],
    ['1.5g', 1.5 * 1024 ** 3],
    ['2t', 2 * 1024 ** 4],
    [' 32m ', 32 * 1024 ** 2],
  ])('%s -> %d', (text, want) => {
    expect(parseBytes(text)).toBe(want);
  });
  it.each(['', 'm', '-1m', '64x', '1e3', 'ten'])('rejects %j naming the field', (text) => {
    try {
      parseBytes(text, 'memory.limit');
      throw new Error('accepted');
    } catch (e) {
      expect(isInvalidArgument(e)).toBe(true);
      expect((e as Error).message).toMatch(/^memory\.limit: /);
    }
  });
});

describe('parseCpus / cpusToQuota (docker run --cpus)', () => {
  it('0.5 CPUs is quota 50000 per 100000 us', () => {
    expect(parseCpus('0.5')).toBe(0.5);
    expect(cpusToQuota(parseCpus('0.5'))).toEqual({ quota: 50000, period: 100000 });
    expect(cpusToQuota(parseCpus('2'))).toEqual({ quota: 200000, period: 100000 });
    expect(cpusToQuota(parseCpus('.25'))).toEqual({ quota: 25000, period: 100000 });
    expect(cpusToQuota(1.5, 50000)).toEqual({ quota: 75000, period: 50000 });
  });
  it.each(['0', '-1', 'abc', '1.2.3', '', '0.001'])('rejects %j', (text) => {
    expect(() => parseCpus(text)).toThrow(/cpus: /);
  });
  it('names the floor', () => {
    expect(() => parseCpus('0.005')).toThrow('cpus: 0.005 is below the minimum of 0.01 CPUs');
  });
});
