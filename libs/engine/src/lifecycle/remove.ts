// docker rm and container prune. A live container is refused unless forced
// (then killed, its runtime and root released, its death announced); the
// record stays as it is until everything it holds is released (root, image
// hold, volume refs), so a failure leaves a removable container rather than a
// stuck one. Then the record, the anonymous volumes with rm -v, the
// container's state dir, and `removed` announced. --rm (AutoRemove) removes
// through removeNow after the exit handling (lifecycle/exits.ts).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isFailedPrecondition, isNotFound } from '@berth/errors';
import { MAX_TIMER_MS, type EngineContext } from '../context';
import { transition as checkTransition } from '../state';
import { selectPrunable } from '../summary';
import type { ExitHandling } from './exits';
import type { RuntimeRelease } from './release';
import type { RestartScheduler } from './restarts';

export class ContainerRemoval {
  constructor(
    private readonly ctx: EngineContext,
    private readonly release: RuntimeRelease,
    private readonly restarts: RestartScheduler,
    private readonly exits: ExitHandling,
  ) {}

  /**
   * docker rm. Refuses a live container unless force (then SIGKILL first).
   * volumes: also remove the container's anonymous volumes (named ones stay).
   */
  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const rec = this.ctx.store.find(ref);
    return this.ctx.serial(rec.id, () => this.ctx.timed('remove', () => this.removeNow(rec.id, opts))).then(async () => {
      // A forced kill's exit handling may still be queued behind us; it finds no record.
      await this.exits.handled(rec.id);
    });
  }

  /** Removes `id` now (the caller is on its chain); `rootReleased` when its root went with an earlier release. */
  async removeNow(id: string, opts: { force?: boolean; volumes?: boolean; rootReleased?: boolean }): Promise<void> {
    let cur = this.ctx.store.get(id);
    let rootReleased = opts.rootReleased ?? false;
    if (cur.state === 'restarting') {
      if (!opts.force) checkTransition(cur.name, cur.state, 'remove'); // throws the worded error
      this.restarts.cancel(id);
      cur = this.ctx.store.transition(id, 'exit');
    }
    if (cur.state === 'running' || cur.state === 'paused') {
      if (!opts.force) checkTransition(cur.name, cur.state, 'remove');
      await this.ctx.ports.namespaces.kill(id, 'SIGKILL');
      if (cur.state === 'paused') await this.ctx.ports.cgroups.thaw(id);
      await this.ctx.ports.namespaces.wait(id, MAX_TIMER_MS);
      const digest = cur.imageDigest;
      await this.release.release(id, async () => { rootReleased = await this.release.releaseRoot(id, digest); });
      cur = this.ctx.store.transition(id, 'exit', () => ({ exitCode: 137, finishedAt: this.ctx.clock.now(), pid: 0 }));
      this.ctx.emit(cur, 'die', { exitCode: 137 });
    }
    // Legality only: the record stays as it is until everything it holds is
    // released, so a failure below leaves a removable container, not a stuck one.
    checkTransition(cur.name, cur.state, 'remove');
    // A start cut short by a killed service (its rollback could not reach it)
    // can leave a created container holding a process, network or cgroup:
    // release them (idempotent; nothing there is fine).
    if (cur.state === 'created') await this.release.release(id);
    if (!rootReleased) {
      await this.ctx.whileUnavailable(() => this.ctx.ports.layers.remove(id));
      const digest = cur.imageDigest;
      if (digest) await this.ctx.whileUnavailable(() => this.ctx.ports.images.removeContainerRef(digest, id));
    }
    // Its own state dir too (the log, the hosts files), as Docker removes containers/<id>;
    // off the event loop: with many removals at once the sync rm was a visible stall.
    // Before the record: an engine killed between the two then leaves a record
    // the retried rm removes, not a directory nothing names (chaos).
    await rm(join(this.ctx.stateDir, 'containers', id), { recursive: true, force: true });
    const vols = this.ctx.volumes.removeRefs(id);
    this.ctx.store.delete(id);
    this.ctx.freshRoots.delete(id);
    if (opts.volumes) {
      for (const name of vols) {
        const v = this.ctx.volumes.find(name);
        if (v?.anonymous && this.ctx.volumes.usedBy(name).length === 0) this.ctx.volumes.remove(name);
      }
    }
    if (cur.idMapping) this.ctx.syncUsernsTraversal();
    this.restarts.forget(id);
    this.ctx.emit({ ...cur, state: 'removed' }, 'removed');
  }

  /** docker container prune: removes stopped containers matching filters; returns their ids. */
  async prune(filters: Record<string, string[]> = {}): Promise<string[]> {
    const victims = selectPrunable(this.ctx.store.list({ all: true }), filters);
    const removed: string[] = [];
    for (const c of victims) {
      try {
        await this.remove(c.id, { volumes: false });
        removed.push(c.id);
      } catch (e) {
        // Started meanwhile, or removed by someone else: not ours to prune any more.
        if (!isNotFound(e) && !isFailedPrecondition(e)) throw e;
      }
    }
    return removed;
  }
}
