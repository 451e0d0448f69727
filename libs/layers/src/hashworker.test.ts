import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { IDLE_EXIT_MS, INLINE_MAX_BYTES, OffThreadSha256, hashWorkerRunning } from './hashworker';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('off-thread sha256 (the DiffID of an applied layer)', () => {
  it('hashes a small stream on the main thread: no worker is started for it', async () => {
    const small = Buffer.from('x'.repeat(INLINE_MAX_BYTES));
    const h = new OffThreadSha256();
    h.update(small.subarray(0, 1000));
    h.update(small.subarray(1000));
    expect(await h.digest()).toBe(sha256(small));
    expect(hashWorkerRunning()).toBe(false);
  });

  it('hashes a large stream on a worker that stays while a hash is open, exits once none is, and comes back for the next hash', async () => {
    const a = Buffer.alloc(3 * INLINE_MAX_BYTES, 'a');
    const b = Buffer.alloc(INLINE_MAX_BYTES + 1, 'b');

    const open = new OffThreadSha256();
    open.update(a.subarray(0, 2 * INLINE_MAX_BYTES));
    expect(hashWorkerRunning()).toBe(true);
    // Longer than the idle period: an open hash (a layer still streaming) keeps the worker.
    await new Promise((r) => setTimeout(r, IDLE_EXIT_MS + 1500));
    expect(hashWorkerRunning()).toBe(true);
    open.update(a.subarray(2 * INLINE_MAX_BYTES));
    expect(await open.digest()).toBe(sha256(a));

    // A discarded hash settles too: nothing is open, the thread goes.
    const dropped = new OffThreadSha256();
    dropped.update(b);
    dropped.discard();
    await vi.waitFor(() => expect(hashWorkerRunning()).toBe(false), { timeout: IDLE_EXIT_MS * 4, interval: 200 });

    const again = new OffThreadSha256();
    again.update(b.subarray(0, 10));
    again.update(b.subarray(10));
    expect(hashWorkerRunning()).toBe(true);
    expect(await again.digest()).toBe(sha256(b));
  }, 60_000);
});
