// docker top: the host's ps, filtered to the pids in the container's cgroup
// (top.ts parses and filters).
import type { EngineContext } from '../context';
import { requireRunning } from '../state';
import { filterPsOutput, type TopResult } from '../top';

export class ContainerTop {
  constructor(private readonly ctx: EngineContext) {}

  /** docker top: host ps rows of the container's processes. */
  async top(ref: string, psArgs: string[] = []): Promise<TopResult> {
    const c = this.ctx.store.find(ref);
    requireRunning(c.name, c.state === 'paused' ? 'running' : c.state);
    const pids = await this.ctx.ports.cgroups.pids(c.id);
    return filterPsOutput(await this.ctx.ps(psArgs), pids);
  }
}
