// Readers of a container's live stdio (the engine's Attach) go through the
// namespaces service, which serves them from the process's state: its
// monitor socket, its exit file, its log. When the process exits, the
// engine's exit handling deletes that state (releaseRuntime). Without
// coordination the delete can land in the middle of an attach that has
// already sent output — replaying the log, or about to read the exit — and
// the client gets "container <id> does not exist" instead of the exit code
// (seen as `berth run --rm ...` printing its output, then failing with 125).
//
// So an attach holds the runtime while it streams, and releaseRuntime first
// waits for the holds on that container (they end by themselves: the process
// has exited, so the namespaces service sends the exit and closes). A slow
// reader cannot block the release for ever: after `maxWaitMs` (the monitor's
// own stall timeout for a reader that does not read) the release goes on.
// An attach that arrives while the release is under way is refused at once,
// before any output, so its caller can read the log and wait instead.

export class RuntimeHolds {
  private readonly holds = new Map<string, Set<Promise<void>>>();
  private readonly releasing = new Set<string>();

  constructor(private readonly maxWaitMs = 10_000) {}

  /**
   * Holds container `id`'s runtime until the returned function is called;
   * undefined when its release has begun (the process exited and is being
   * cleaned up): the caller must not start reading it.
   */
  hold(id: string): (() => void) | undefined {
    if (this.releasing.has(id)) return undefined;
    let done!: () => void;
    const p = new Promise<void>((resolve) => { done = resolve; });
    let set = this.holds.get(id);
    if (!set) { set = new Set(); this.holds.set(id, set); }
    set.add(p);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      done();
      set.delete(p);
      if (set.size === 0 && this.holds.get(id) === set) this.holds.delete(id);
    };
  }

  /** Runs `release` once the current holds on `id` ended (or maxWaitMs passed); no new hold meanwhile. */
  async afterHolds<T>(id: string, release: () => Promise<T>): Promise<T> {
    this.releasing.add(id);
    try {
      const set = this.holds.get(id);
      if (set && set.size > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.all([...set]),
          new Promise<void>((resolve) => { timer = setTimeout(resolve, this.maxWaitMs); timer.unref?.(); }),
        ]);
        clearTimeout(timer);
      }
      return await release();
    } finally {
      this.releasing.delete(id);
    }
  }

  /** Holds currently open on `id` (tests). */
  count(id: string): number {
    return this.holds.get(id)?.size ?? 0;
  }
}
