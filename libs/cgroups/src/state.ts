// What berth remembers about each cgroup it made, one small JSON file per
// cgroup in the manager's state directory, so names, labels and OOM counts
// survive a restart of the service (the cgroups themselves outlive it too).
// Files are replaced atomically (write to a temp name, rename).
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DataLossError, fromNodeError } from '@berth/errors';
import type { LinuxResources } from './resources';

export interface CgroupRecord {
  /** Container id; also the last element of the cgroup path. */
  id: string;
  /** Parent cgroup path relative to the cgroup root ("berth", "berth/pod-x"). */
  parent: string;
  /** Container name (cAdvisor "name" label); "" when unknown. */
  name: string;
  /** Image reference (cAdvisor "image" label); "" when unknown. */
  image: string;
  /** Container labels (exported as container_label_<key>). */
  labels: Record<string, string>;
  /** The resources last applied (create overlaid by every update). */
  resources: LinuxResources;
  /** Creation time, milliseconds since the epoch. */
  createdAt: number;
  /** OOM kills observed since creation. */
  oomKills: number;
}

export class CgroupStateStore {
  constructor(readonly dir: string) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw fromNodeError(e, `create cgroups state directory ${dir}`);
    }
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  save(rec: CgroupRecord): void {
    const tmp = `${this.file(rec.id)}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(rec, null, 2), { mode: 0o600 });
      renameSync(tmp, this.file(rec.id));
    } catch (e) {
      throw fromNodeError(e, `save cgroup state for ${rec.id}`);
    }
  }

  /**
   * On the threadpool: an unlink on ext4 waited 5-20 ms for the journal on a
   * busy machine, on the event loop every service shares. The caller has
   * dropped the record first, so no save for this id follows.
   */
  async remove(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
  }

  /** Every record on disk. A file that does not parse is reported, not skipped silently. */
  loadAll(): CgroupRecord[] {
    const out: CgroupRecord[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      const p = join(this.dir, f);
      try {
        out.push(JSON.parse(readFileSync(p, 'utf8')) as CgroupRecord);
      } catch (e) {
        throw new DataLossError(`cgroup state file ${p} is unreadable (${(e as Error).message}); remove it and run reconcile`, { cause: e });
      }
    }
    return out;
  }
}
