// Changes to a container's record that are not lifecycle steps: docker
// rename (the cgroup follows, for the metrics' label) and docker update
// (limits and restart policy; limits reach the cgroup at once while the
// container runs). Each is committed, then announced.
import { InvalidArgumentError } from '@berth/errors';
import type { ContainerUpdate } from '@berth/container-config';
import type { EngineContext } from '../context';
import { validateContainerName } from '../names';
import { checkExtraResources } from '../resources';
import { resourcesOf } from '../run-plan';
import type { ContainerRecord, HostConfig } from '../types';

export class ContainerUpdates {
  constructor(private readonly ctx: EngineContext) {}

  /** docker rename: the new name is checked and must differ from the old one. */
  rename(ref: string, newName: string): ContainerRecord {
    const rec = this.ctx.store.find(ref);
    const name = validateContainerName(newName, 'new_name');
    if (name === rec.name) {
      throw new InvalidArgumentError(`renaming container ${rec.name} to the name it already has`, { field: 'name' });
    }
    const r = this.ctx.store.update(rec.id, (cur) => ({ ...cur, name }));
    this.ctx.emit(r, 'renamed', { oldName: rec.name });
    // The cgroup (while one exists) carries the name for the metrics' label.
    if (r.state === 'running' || r.state === 'paused' || r.state === 'restarting') {
      this.ctx.ports.cgroups.rename?.(r.id, name).catch((e: Error) => this.ctx.warn(`renaming the cgroup of container ${name}: ${e.message}`));
    }
    return r;
  }

  /** docker update: limits go to the cgroup at once when the container is running. */
  async update(ref: string, u: ContainerUpdate): Promise<ContainerRecord> {
    const rec = this.ctx.store.find(ref);
    return this.ctx.serial(rec.id, async () => {
      const cur = this.ctx.store.get(rec.id);
      const { restartPolicy, ...limits } = u;
      const hostConfig: HostConfig = { ...cur.hostConfig, ...stripUndefined(limits), ...(restartPolicy ? { restartPolicy } : {}) };
      if (hostConfig.autoRemove && hostConfig.restartPolicy.name !== 'no') {
        throw new InvalidArgumentError('restart policy cannot be updated on a container started with --rm', { field: 'restart' });
      }
      if (hostConfig.memory > 0 && hostConfig.memorySwap > 0 && hostConfig.memorySwap < hostConfig.memory) {
        throw new InvalidArgumentError('memory-swap must be at least memory (it is memory plus swap)', { field: 'memory-swap' });
      }
      // The limits as they will be, together (--cpus against a CPU period, a reservation against the limit...).
      checkExtraResources(hostConfig);
      if (cur.state === 'running' || cur.state === 'paused') await this.ctx.ports.cgroups.update(cur.id, resourcesOf(hostConfig));
      const r = this.ctx.store.update(cur.id, (c) => ({ ...c, hostConfig }));
      this.ctx.emit(r, 'updated');
      return r;
    });
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
