// The operation chain: lifecycle calls on one container run one after the
// other. Node runs one callback at a time, but lifecycle calls await other
// services, so two calls on one container could interleave (a stop in the
// middle of a start). Each call waits for the one before it, whatever that
// one's outcome; exit handling runs on the same chain, so a start or remove
// queued behind an exit finds the exit committed and the runtime released.
export class OperationChains {
  private readonly chains = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every call queued on container `id` before it settled. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(() => undefined, () => undefined);
    this.chains.set(id, settled);
    void settled.then(() => { if (this.chains.get(id) === settled) this.chains.delete(id); });
    return next;
  }
}
