// docker start, and a restart policy's restart: the start saga (run-plan.ts:
// mount the root, cgroup, process paused before exec, networks, hosts and
// resolv.conf, exec) over what
// create prepared, then the record moved to running and `started` announced
// (`restarted` first for a policy restart), then the exit watcher armed
// (lifecycle/exits.ts). A failed saga rolls back and records the error; the
// container stays created or exited.
import { FailedPreconditionError } from '@berth/errors';
import type { EngineContext } from '../context';
import { startSteps, type RunContext } from '../run-plan';
import { canTransition } from '../state';
import type { ContainerRecord } from '../types';
import type { ExitHandling } from './exits';
import type { RestartScheduler } from './restarts';
import { checkSharedNetwork } from './shared-network';

export class ContainerStart {
  constructor(
    private readonly ctx: EngineContext,
    private readonly restarts: RestartScheduler,
    private readonly exits: ExitHandling,
  ) {}

  /**
   * docker start. Starting a running container is a no-op, as in Docker.
   * `beforeStart` runs once the process exists, paused before exec, with
   * everything else in place (RunAttached attaches there, so it misses no
   * output however quickly the process exits); its failure fails the start.
   */
  async start(ref: string, opts: { beforeStart?: (id: string) => Promise<void> } = {}): Promise<ContainerRecord> {
    const rec = this.ctx.store.find(ref);
    return this.ctx.serial(rec.id, () => this.startNow(rec.id, false, opts.beforeStart));
  }

  /** Starts `id` now (the caller is on its chain); `isRestart`: a restart policy's restart (counted, announced). */
  async startNow(id: string, isRestart: boolean, beforeStart?: (id: string) => Promise<void>): Promise<ContainerRecord> {
    const rec = this.ctx.store.get(id);
    if (!isRestart && (rec.state === 'running' || rec.state === 'paused')) return rec;
    if (!canTransition(rec.state, 'start')) {
      throw new FailedPreconditionError(`container ${rec.name} cannot be started (state: ${rec.state})`, { field: 'state' });
    }
    checkSharedNetwork(this.ctx.store, rec);
    this.restarts.cancel(id);
    // Its shim must reach its root and files through the 0700 state dirs (state-modes.ts).
    if (rec.idMapping) this.ctx.syncUsernsTraversal();
    const run: RunContext = {
      id, name: rec.name, config: rec.config, hostConfig: rec.hostConfig, pull: 'never', logPath: rec.logPath,
      mounts: rec.mounts, merged: rec.config, rootfs: rec.rootfs, idMapping: rec.idMapping, connections: rec.connections ?? [],
      // docker run: the create just mounted it (mountRoot's Mount would find it so).
      rootMounted: this.ctx.takeFreshRoot(id),
    };
    try {
      const steps = startSteps(this.ctx.ports);
      if (beforeStart) steps.splice(steps.length - 1, 0, { name: 'beforeStart', run: () => beforeStart(id) });
      await this.ctx.runSteps(steps, run);
    } catch (e) {
      this.ctx.store.update(id, (cur) => ({ ...cur, error: (e as Error).message }));
      throw e;
    }
    const now = this.ctx.clock.now();
    const started = this.ctx.store.transition(id, 'start', (cur) => ({
      pid: run.pid ?? 0, startedAt: now, exitCode: 0, oomKilled: false, error: '', manuallyStopped: false,
      networkSettings: run.networkSettings ?? cur.networkSettings,
      restartCount: isRestart ? cur.restartCount + 1 : cur.restartCount,
    }));
    if (isRestart) this.ctx.emit(started, 'restarted');
    this.ctx.emit(started, 'started');
    this.exits.watch(id);
    return started;
  }
}
