import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { IDLE_EXIT_MS, OffThreadSha256, hashWorkerRunning } from './hashworker';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('off-thread sha256 (the DiffID of an applied layer)', () => {
  it('hashes on a worker that stays while a hash is open, exits once none is, and comes back for the next hash', async () => {
    const a = Buffer.from('a'.repeat(100_000));
    const b = Buffer.from('layer two');

    const open = new OffThreadSha256();
    open.update(a.subarray(0, 40_000));
    // Longer than the idle period: an open hash (a layer still streaming) keeps the worker.
    await new Promise((r) => setTimeout(r, IDLE_EXIT_MS + 1500));
    expect(hashWorkerRunning()).toBe(true);
    open.update(a.subarray(40_000));
    expect(await open.digest()).toBe(sha256(a));

    // A discarded hash settles too: nothing is open, the thread goes.
    const dropped = new OffThreadSha256();
    dropped.update(b);
    dropped.discard();
    await vi.waitFor(() => expect(hashWorkerRunning()).toBe(false), { timeout: IDLE_EXIT_MS * 4, interval: 200 });

    const again = new OffThreadSha256();
    expect(hashWorkerRunning()).toBe(true);
    again.update(b);
    expect(await again.digest()).toBe(sha256(b));
  }, 60_000);
});
