// A FIFO async mutex: the content store's commit step and the garbage
// collector's sweep must not interleave (see gc.ts for why).
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs fn with the lock held; later callers wait in arrival order. */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
