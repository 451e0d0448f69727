import { describe, it, expect } from 'vitest';
import { cpuSharesToWeight, blkioWeightToIoWeight, memorySwapToV2 } from './convert';
import { cpuWeightToShares } from './v2/cpu';

const WEIGHTS = [17, 59, 174];

describe('v1 -> v2 conversions (as runc / opencontainers/cgroups)', () => {
  it('cpu shares -> weight maps min, default and max exactly and is monotonic', () => {
    expect(cpuSharesToWeight(0)).toBe(0);
    expect(cpuSharesToWeight(2)).toBe(1);
    expect(cpuSharesToWeight(1024)).toBe(100);
    expect(cpuSharesToWeight(262144)).toBe(10000);
    // Regression values of the quadratic (computed once; the old linear
    // formula gave 4, 20 and 79 here, and 39 for the default).
    expect(cpuSharesToWeight(102)).toBe(WEIGHTS[0]);
    expect(cpuSharesToWeight(512)).toBe(WEIGHTS[1]);
    expect(cpuSharesToWeight(2048)).toBe(WEIGHTS[2]);
    let last = 0;
    for (let s = 2; s <= 262144; s = Math.ceil(s * 1.3)) {
      const w = cpuSharesToWeight(s);
      expect(w).toBeGreaterThanOrEqual(last);
      last = w;
    }
  });

  it('cpu weight -> shares inverts it for exported specs', () => {
    for (const s of [2, 512, 1024, 2048, 100000, 262144]) {
      const back = cpuWeightToShares(cpuSharesToWeight(s));
      expect(Math.abs(back - s) / s).toBeLessThan(0.05);
    }
    expect(cpuWeightToShares(100)).toBe(1024);
  });

  it('blkio weight -> io.weight: 10 -> 1, 500 -> 4950, 1000 -> 10000', () => {
    expect(blkioWeightToIoWeight(0)).toBe(0);
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(500)).toBe(4950);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
  });

  it('memory+swap -> swap alone', () => {
    expect(memorySwapToV2(96, 64)).toBe(32);
    expect(memorySwapToV2(64, 64)).toBe(0);
    expect(memorySwapToV2(-1, 64)).toBe(-1);
    expect(memorySwapToV2(undefined, 64)).toBeUndefined();
    expect(memorySwapToV2(0, 64)).toBeUndefined();
    expect(memorySwapToV2(undefined, -1)).toBe(-1);
    expect(memorySwapToV2(100, -1)).toBe(100);
  });
});
