// A container's exits. Each start arms a watcher (through the namespaces
// service, whose monitor records the exit even while the engine is down);
// the exit is handled on the container's operation chain:
//   1. commit the exit code and announce `die` (what Wait returns on) at once;
//   2. release the runtime (lifecycle/release.ts; the writable root stays for
//      restart, commit and logs, unless --rm removes it alongside);
//   3. apply the restart policy (lifecycle/restarts.ts), else announce
//      `exited` and, with --rm, remove the container.
// A start or remove queued behind the exit finds everything released; a
// crash between the commit and the release is healed by recovery, which
// releases every exited container again.
import { isNotFound } from '@berth/errors';
import { MAX_TIMER_MS, type EngineContext } from '../context';
import type { ExitStatus } from '../ports';
import { decideRestart } from '../restart';
import type { ContainerRecord } from '../types';
import type { RuntimeRelease } from './release';
import type { RestartScheduler } from './restarts';

/** Removes a container whose exit was just handled (--rm); `rootReleased` when its root went with the release. */
export type RemoveAfterExit = (id: string, opts: { force: boolean; volumes: boolean; rootReleased: boolean }) => Promise<void>;

export class ExitHandling {
  /** Resolves when the exit of the current process of a container has been handled. */
  private readonly handledExits = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly release: RuntimeRelease,
    private readonly restarts: RestartScheduler,
    private readonly removeAfterExit: RemoveAfterExit,
  ) {}

  /** Waits (through the namespaces service) for the current process to exit, then handles it. */
  watch(id: string): void {
    const { ctx } = this;
    const p = (async () => {
      for (;;) {
        let st: ExitStatus | null;
        try {
          // A namespaces service being restarted: its monitors keep the exit, ask again.
          st = await ctx.whileUnavailable(() => ctx.ports.namespaces.wait(id, MAX_TIMER_MS));
        } catch (e) {
          if (isNotFound(e)) return; // deleted under us (remove -f)
          ctx.warn(`wait for container ${id}: ${(e as Error).message}`);
          return;
        }
        // After close() the next engine (recovery) owns the container.
        if (ctx.closed) return;
        if (st) {
          try {
            await ctx.serial(id, () => this.handleExit(id, st!));
          } catch (e) {
            // Nobody awaits the watcher: report instead of an unhandled rejection.
            ctx.warn(`handling the exit of container ${id}: ${(e as Error).message}`);
          }
          return;
        }
      }
    })();
    this.handledExits.set(id, p);
  }

  /** Settles once the watched exit of `id` has been handled (undefined when none was watched). */
  handled(id: string): Promise<void> | undefined {
    return this.handledExits.get(id);
  }

  /** Commits and handles an exit (the steps in the header); a record already past it is left alone. */
  async handleExit(id: string, st: ExitStatus): Promise<void> {
    const { ctx } = this;
    let rec: ContainerRecord;
    try { rec = ctx.store.get(id); } catch (e) { if (isNotFound(e)) return; throw e; }
    if (rec.state !== 'running' && rec.state !== 'paused') return; // already handled (recovery or duplicate report)
    ctx.onStepTimed?.('exitNotify', Math.max(0, ctx.clock.now() - st.exitedAt) / 1000);
    const policy = rec.hostConfig.autoRemove ? { name: 'no' as const, maximumRetryCount: 0 } : rec.hostConfig.restartPolicy;
    const decision = decideRestart(policy, rec.restartCount, this.restarts.backoff(id), {
      exitCode: st.exitCode, manuallyStopped: rec.manuallyStopped, ranForMs: st.exitedAt - rec.startedAt,
    });
    const after = ctx.store.transition(id, decision.restart ? 'restarting' : 'exit', () => ({
      exitCode: st.exitCode, oomKilled: st.oomKilled, finishedAt: st.exitedAt, pid: 0,
    }));
    if (st.oomKilled) ctx.emit(after, 'oom');
    ctx.emit(after, 'die', { exitCode: st.exitCode });
    // The waiters answered by `die` send their replies first: the release's
    // first calls (namespaces Delete, dispatched in process) would otherwise
    // run their synchronous part ahead of the reply's write.
    await new Promise((r) => setImmediate(r));
    // --rm: the writable root and the image ref go alongside the release (once the process is gone).
    const removing = !decision.restart && rec.hostConfig.autoRemove;
    let rootReleased = false;
    await ctx.timed('releaseRuntime', () => this.release.release(id, removing ? async () => { rootReleased = await this.release.releaseRoot(id, rec.imageDigest); } : undefined));
    if (decision.restart) {
      this.restarts.schedule(id, decision.delayMs);
      return;
    }
    ctx.emit(after, 'exited', { exitCode: st.exitCode });
    if (rec.hostConfig.autoRemove) await ctx.timed('remove', () => this.removeAfterExit(id, { force: false, volumes: true, rootReleased }));
  }
}
