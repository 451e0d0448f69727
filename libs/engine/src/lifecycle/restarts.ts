// Restart policies in time: the backoff of each container (restart.ts has
// the policy table and the backoff arithmetic) and the timer of a restart
// decided at an exit or by recovery. The timer's restart runs on the
// container's operation chain and only if the container is still
// "restarting" (a stop or remove meanwhile cancelled it); a restart that
// fails leaves the container exited with the error (exit code 128), as
// Docker gives up after a failed restart.
import type { EngineContext } from '../context';
import { RestartBackoff } from '../restart';

export class RestartScheduler {
  private readonly backoffs = new Map<string, RestartBackoff>();
  private readonly timers = new Map<string, unknown>();

  /** `restartNow` starts the container again (counting a restart); it runs on the container's chain. */
  constructor(private readonly ctx: EngineContext, private readonly restartNow: (id: string) => Promise<unknown>) {}

  /** The container's backoff (created at its first use, dropped with `forget`). */
  backoff(id: string): RestartBackoff {
    let b = this.backoffs.get(id);
    if (!b) { b = new RestartBackoff(); this.backoffs.set(id, b); }
    return b;
  }

  /** Restarts `id` after `delayMs`, replacing a restart already scheduled. */
  schedule(id: string, delayMs: number): void {
    const { ctx } = this;
    this.cancel(id);
    const h = ctx.clock.setTimeout(() => {
      this.timers.delete(id);
      void ctx.serial(id, async () => {
        const cur = ctx.store.get(id);
        if (cur.state !== 'restarting') return; // stopped or removed meanwhile
        try {
          await this.restartNow(id);
        } catch (e) {
          // Docker gives up after a failed restart: the container stays exited with the error.
          const failed = ctx.store.transition(id, 'exit', () => ({ error: (e as Error).message, exitCode: 128 }));
          ctx.emit(failed, 'exited', { exitCode: 128 });
        }
      }).catch((e) => ctx.warn(`restart of ${id}: ${(e as Error).message}`));
    }, delayMs);
    this.timers.set(id, h);
  }

  cancel(id: string): void {
    const h = this.timers.get(id);
    if (h !== undefined) { this.ctx.clock.clearTimeout(h); this.timers.delete(id); }
  }

  /** Engine shutdown: no restart fires after it (the next engine's recovery decides). */
  cancelAll(): void {
    for (const id of [...this.timers.keys()]) this.cancel(id);
  }

  /** True while a restart is scheduled. */
  pending(id: string): boolean {
    return this.timers.has(id);
  }

  /** The container is gone: its backoff too. */
  forget(id: string): void {
    this.backoffs.delete(id);
  }
}
