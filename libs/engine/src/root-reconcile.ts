// Writable roots no container owns. The layers service keeps every root the
// engine prepared until the engine removes it, and it does not know
// containers (the engine owns that reference, as containerd's clients own
// their leases). A root is left without a container when the removal could
// not reach the layers service, or the call that made it failed with its
// outcome unknown: a Prepare the service carried out whose reply was lost
// (the service killed, a deadline), an undo that gave up after the retry
// window, an engine killed between the two. So the engine reconciles: it
// lists its roots through the layers service (LayersPort.listRoots) and
// removes those that neither a record nor a create in flight owns.
//
// When: at engine start (recovery-loop.ts, after recovery) and whenever a
// call to the layers service failed with an unknown outcome (UNAVAILABLE,
// DEADLINE_EXCEEDED, CANCELLED): once the service answers again, one pass.
// Passes never overlap; a request during one runs one more after it.
//
// The race with creates (containerd's GC keeps what a lease holds; here the
// create in flight is the lease): the list is read first, the owners only
// after it arrived. A root in the list was prepared before the list was
// read, so its create had started by then; it is still in flight (kept), or
// committed its record (kept), or failed and removed the root or is removing
// it (removing again is harmless). A container id is new for every create,
// so no owner can appear later for a key that had none. A root made after
// the list was read is not in it: the next pass sees it.
import { ErrorCode, errorCode, isNotFound } from '@berth/errors';
import type { ContainerStore } from './container-store';
import { peerRestarting } from './peer-retry';
import type { LayersPort } from './ports';

export interface RootReconcileHost {
  readonly store: ContainerStore;
  readonly layers: LayersPort;
  /** True while this engine is creating `id` (lifecycle/create.ts). */
  isCreating(id: string): boolean;
  /** True once the engine is closing: no more passes. */
  stopped(): boolean;
  warn(msg: string): void;
}

/** A failed call whose effect on the layers service is unknown: it may have made (or kept) a root. */
export function outcomeUnknown(e: unknown): boolean {
  const c = errorCode(e);
  return c === ErrorCode.Unavailable || c === ErrorCode.DeadlineExceeded || c === ErrorCode.Cancelled;
}

export class RootReconcile {
  private running: Promise<string[]> | null = null;
  private queued: Promise<string[]> | null = null;
  private waiting = false;

  constructor(private readonly host: RootReconcileHost) {}

  /**
   * One pass now, or while one runs, one more after it (shared by every
   * caller meanwhile): removes every root no record and no create in flight
   * owns; returns their keys. Fails as the layers service's List fails; a
   * root that cannot be removed is reported and left for the next pass.
   */
  run(): Promise<string[]> {
    if (!this.running) return this.begin();
    this.queued ??= this.running.catch(() => undefined).then(() => {
      this.queued = null;
      return this.begin();
    });
    return this.queued;
  }

  private begin(): Promise<string[]> {
    const p: Promise<string[]> = this.pass().finally(() => {
      if (this.running === p) this.running = null;
    });
    this.running = p;
    return p;
  }

  /**
   * A pass once the layers service answers again (a call to it failed with
   * an unknown outcome); tried with a backoff while it is being restarted.
   */
  afterUnknownOutcome(): void {
    if (this.waiting || this.host.stopped()) return;
    this.waiting = true;
    void (async () => {
      for (let delay = 200; !this.host.stopped(); delay = Math.min(delay * 2, 5000)) {
        try {
          await this.run();
          return;
        } catch (e) {
          if (!peerRestarting(e) && !outcomeUnknown(e)) {
            this.host.warn(`reconciling writable roots with the layers service: ${(e as Error).message}`);
            return;
          }
        }
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    })().finally(() => { this.waiting = false; });
  }

  /**
   * `layers` with every call that fails with an unknown outcome followed by
   * a pass (afterUnknownOutcome). Methods are looked up on `layers` at each
   * call, so a test that replaces one after this wraps it still reaches it.
   */
  watch(layers: LayersPort): LayersPort {
    const watched = <A extends unknown[], R>(call: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      try {
        return await call(...a);
      } catch (e) {
        if (outcomeUnknown(e)) this.afterUnknownOutcome();
        throw e;
      }
    };
    return {
      prepare: watched((...a: Parameters<LayersPort['prepare']>) => layers.prepare(...a)),
      mount: watched((...a: Parameters<LayersPort['mount']>) => layers.mount(...a)),
      diff: watched((key: string) => layers.diff(key)),
      remove: watched((key: string) => layers.remove(key)),
      // The pass's own list: a failure there is retried by the pass's loop.
      listRoots: () => layers.listRoots(),
    };
  }

  private async pass(): Promise<string[]> {
    const { store, layers } = this.host;
    const listed = await layers.listRoots();
    // The owners are read only now, after the list arrived (see the header).
    const orphans = listed.filter((key) => !this.host.isCreating(key) && !recorded(store, key));
    const removed: string[] = [];
    for (const key of orphans) {
      if (this.host.stopped()) break;
      try {
        await layers.remove(key);
        removed.push(key);
      } catch (e) {
        if (peerRestarting(e)) throw e; // the loop waits for the service and runs the pass again
        this.host.warn(`removing writable root ${key}, which no container owns: ${(e as Error).message}`);
      }
    }
    return removed;
  }
}

function recorded(store: ContainerStore, id: string): boolean {
  try {
    store.get(id);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}
