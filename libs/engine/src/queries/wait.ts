// Waiting for a container: docker wait's conditions, and the end of a run a
// client is attached to (RunAttached). Both listen to the engine's own events
// (die, removed), which are emitted after the exit is committed, so the code
// they answer is the one the record holds.
import { ErrorCode, makeError } from '@berth/errors';
import type { EngineContext } from '../context';
import type { ContainerEvent } from '../events';
import type { ExitHandling } from '../lifecycle/exits';

export class ContainerWaits {
  constructor(private readonly ctx: EngineContext, private readonly exits: ExitHandling) {}

  /**
   * docker wait: resolves with the exit code. "not-running" returns at once
   * for a stopped container, else at the next death of its process (a
   * restart-policy restart counts, as in Docker); "next-exit" always waits
   * for the next death; "removed" waits until the record is gone. `signal`
   * abandons the wait (the gRPC call was cancelled): the promise rejects.
   */
  async wait(ref: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal): Promise<number> {
    const rec = this.ctx.store.find(ref);
    if (condition === 'not-running' && (rec.state === 'exited' || rec.state === 'created')) return Promise.resolve(rec.exitCode);
    // "removed" answers the exit code too (Docker's condition=removed): the
    // record is gone by then, so it is taken from the last death seen.
    let exitCode = rec.exitCode;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        this.ctx.events.off('event', onEvent);
        signal?.removeEventListener('abort', onAbort);
      };
      const onEvent = (ev: ContainerEvent): void => {
        if (ev.id !== rec.id) return;
        if (ev.action === 'die' && ev.exitCode !== undefined) exitCode = ev.exitCode;
        if ((condition !== 'removed' && ev.action === 'die') || ev.action === 'removed') {
          cleanup();
          resolve(ev.action === 'removed' ? exitCode : ev.exitCode ?? this.lastExitCode(rec.id));
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(makeError(ErrorCode.Cancelled, `wait for container ${rec.name} cancelled`));
      };
      if (signal?.aborted) { onAbort(); return; }
      this.ctx.events.on('event', onEvent);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private lastExitCode(id: string): number {
    try { return this.ctx.store.get(id).exitCode; } catch { return 0; }
  }

  /**
   * The end of the run about to start (RunAttached), registered before the
   * start: resolves once the next exit of `id` is committed (the code Wait
   * answers) and, for an AutoRemove container, once the exit handling has
   * removed it (`removed` false when that failed: the handling warned why).
   * `signal` abandons it (the client went away): rejects with Cancelled.
   */
  runEnd(id: string, signal?: AbortSignal): Promise<{ exitCode: number; oomKilled: boolean; removed: boolean }> {
    const exists = (): boolean => { try { this.ctx.store.get(id); return true; } catch { return false; } };
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        this.ctx.events.off('event', onEvent);
        signal?.removeEventListener('abort', onAbort);
      };
      const onEvent = (ev: ContainerEvent): void => {
        if (ev.id !== id || ev.action !== 'die') return;
        cleanup();
        let autoRemove = false;
        let oomKilled = false;
        try {
          const r = this.ctx.store.get(id);
          autoRemove = r.hostConfig.autoRemove;
          oomKilled = r.oomKilled;
        } catch { /* removed with it (rm -f) */ }
        const exitCode = ev.exitCode ?? this.lastExitCode(id);
        // The exit handling (release, then --rm's removal) runs on the watcher; its end is the run's end.
        const handled = autoRemove ? (this.exits.handled(id) ?? Promise.resolve()).catch(() => undefined) : Promise.resolve();
        void handled.then(() => resolve({ exitCode, oomKilled, removed: !exists() }));
      };
      const onAbort = (): void => {
        cleanup();
        reject(makeError(ErrorCode.Cancelled, `run of container ${id} abandoned by the client`));
      };
      if (signal?.aborted) { onAbort(); return; }
      this.ctx.events.on('event', onEvent);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
