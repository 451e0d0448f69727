import { describe, expect, it } from 'vitest';
import { asyncSlots } from './async-slots';

describe('asyncSlots', () => {
  it('runs at most max calls at once, the rest in order as slots free, and frees a slot on failure', async () => {
    const slot = asyncSlots(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const call = (i: number, fail = false) =>
      slot(async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await new Promise<void>((r) => releases.push(r));
        running--;
        if (fail) throw new Error(`call ${i} failed`);
        return i;
      });
    const calls = [call(0, true), call(1), call(2), call(3)];
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([0, 1]);
    releases.shift()!(); // 0 fails: its slot goes to 2
    await expect(calls[0]).rejects.toThrow('call 0 failed');
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([0, 1, 2]);
    while (releases.length) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    expect(await Promise.all(calls.slice(1))).toEqual([1, 2, 3]);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
  });
});
