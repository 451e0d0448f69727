// Signals to a container's process and its freezer: docker stop (the stop
// signal, SIGKILL after the timeout), kill, pause and unpause. Each runs on
// the container's operation chain. The exit a signal causes is committed by
// the exit watcher (lifecycle/exits.ts), not here: stop waits for that, then
// announces `stopped`.
import { FailedPreconditionError, isNotFound } from '@berth/errors';
import { MAX_TIMER_MS, type EngineContext } from '../context';
import { transition as checkTransition } from '../state';
import type { ContainerRecord } from '../types';
import type { ExitHandling } from './exits';
import type { RestartScheduler } from './restarts';
import { normalizeSignal, stopSignalOf } from './signals';

export class ContainerSignals {
  constructor(
    private readonly ctx: EngineContext,
    private readonly restarts: RestartScheduler,
    private readonly exits: ExitHandling,
  ) {}

  /**
   * docker stop: the stop signal, then SIGKILL after the timeout (seconds;
   * default the container's stopTimeout, else 10). Marks the container as
   * manually stopped so unless-stopped/on-failure/always do not restart it.
   * Stopping a stopped container is a no-op.
   */
  async stop(ref: string, timeoutS?: number, signalOverride?: string): Promise<ContainerRecord> {
    const override = signalOverride ? normalizeSignal(signalOverride) : undefined;
    const rec = this.ctx.store.find(ref);
    return this.ctx.serial(rec.id, async () => {
      const cur = this.ctx.store.get(rec.id);
      if (cur.state === 'restarting') {
        this.restarts.cancel(cur.id);
        const r = this.ctx.store.transition(cur.id, 'exit', () => ({ manuallyStopped: true }));
        this.ctx.emit(r, 'stopped');
        return r;
      }
      if (cur.state !== 'running' && cur.state !== 'paused') return cur;
      this.ctx.store.update(cur.id, (c) => ({ ...c, manuallyStopped: true }));
      const signal = override ?? stopSignalOf(cur);
      const timeout = timeoutS ?? cur.config.stopTimeout ?? this.ctx.defaultStopTimeoutS;
      await this.ctx.ports.namespaces.kill(cur.id, signal);
      // A frozen process cannot act on the signal: thaw it (Docker does the same).
      if (cur.state === 'paused') await this.ctx.ports.cgroups.thaw(cur.id);
      const st = timeout < 0 ? await this.ctx.ports.namespaces.wait(cur.id, MAX_TIMER_MS) : await this.ctx.ports.namespaces.wait(cur.id, timeout * 1000);
      if (!st) {
        await this.ctx.ports.namespaces.kill(cur.id, 'SIGKILL');
        await this.ctx.ports.namespaces.wait(cur.id, MAX_TIMER_MS);
      }
      return cur;
    }).then(async (r) => {
      // The exit is committed by the watcher on the same chain; wait for it outside it.
      await this.exits.handled(r.id);
      const after = this.ctx.store.find(r.id);
      if (after.state === 'exited' && r.state !== 'exited' && r.state !== 'created') this.ctx.emit(after, 'stopped');
      return after;
    }).catch((e) => {
      if (isNotFound(e) && rec.hostConfig.autoRemove) return { ...rec, state: 'removed' as const };
      throw e;
    });
  }

  /** docker kill: delivers a signal. SIGKILL or the stop signal count as a user stop. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.ctx.store.find(ref);
    return this.ctx.serial(rec.id, async () => {
      const cur = this.ctx.store.get(rec.id);
      if (cur.state !== 'running' && cur.state !== 'paused') {
        throw new FailedPreconditionError(`container ${cur.name} is not running (state: ${cur.state})`, { field: 'state' });
      }
      const sig = normalizeSignal(signal);
      if (sig === 'SIGKILL' || sig === stopSignalOf(cur)) {
        this.ctx.store.update(cur.id, (c) => ({ ...c, manuallyStopped: true }));
      }
      await this.ctx.ports.namespaces.kill(cur.id, sig);
      if (sig === 'SIGKILL' && cur.state === 'paused') await this.ctx.ports.cgroups.thaw(cur.id);
      this.ctx.emit(cur, 'killed', { signal: sig });
    });
  }

  async pause(ref: string): Promise<ContainerRecord> {
    const rec = this.ctx.store.find(ref);
    return this.ctx.serial(rec.id, async () => {
      const cur = this.ctx.store.get(rec.id);
      checkTransition(cur.name, cur.state, 'pause'); // throws the worded error before freezing
      await this.ctx.ports.cgroups.freeze(cur.id);
      const r = this.ctx.store.transition(cur.id, 'pause');
      this.ctx.emit(r, 'paused');
      return r;
    });
  }

  async unpause(ref: string): Promise<ContainerRecord> {
    const rec = this.ctx.store.find(ref);
    return this.ctx.serial(rec.id, async () => {
      const cur = this.ctx.store.get(rec.id);
      checkTransition(cur.name, cur.state, 'unpause');
      await this.ctx.ports.cgroups.thaw(cur.id);
      const r = this.ctx.store.transition(cur.id, 'unpause');
      this.ctx.emit(r, 'unpaused');
      return r;
    });
  }
}
