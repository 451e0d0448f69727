// A FIFO async mutex: a critical section that spans awaits (the images
// content store's commit and its GC sweep; the networks service's state
// changes). Callers run one at a time, in arrival order; a failure in one
// releases the lock for the next.
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
