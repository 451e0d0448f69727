// docker cp, orchestrated (the path rules, views and tar streams are
// copy.ts): the container's record with its writable root mounted when no
// process shows it, a running container frozen while its files are read or
// written (thawed whatever happens, unless it stopped meanwhile), and Docker's
// events announced: archive-path when a read begins, extract-to-dir once an
// extraction is done.
import type { ExtractResult } from '@berth/tar';
import type { EngineContext } from '../context';
import { copyFrom, copyTo, frozenDuring, statPath, withMountedRoot, type CopyToOptions, type PathStat } from '../copy';
import type { ContainerRecord } from '../types';

export class ContainerCopy {
  private readonly freezer: Parameters<typeof frozenDuring>[1];

  constructor(private readonly ctx: EngineContext) {
    this.freezer = {
      freeze: (id) => ctx.ports.cgroups.freeze(id),
      thaw: (id) => ctx.ports.cgroups.thaw(id),
      stateOf: (id) => { try { return ctx.store.get(id).state; } catch { return 'removed'; } },
    };
  }

  /** The container's record, its writable root mounted if nothing else shows it (copy.ts withMountedRoot). */
  mountedRecord(ref: string): Promise<ContainerRecord> {
    return withMountedRoot(this.ctx.store.find(ref), async (key, idMapping) => (await this.ctx.ports.layers.mount(key, idMapping)).rootfs);
  }

  /** docker export: the record with its root mounted, the export announced (Docker's "export", as its export begins). */
  async exportRecord(ref: string): Promise<ContainerRecord> {
    const rec = await this.mountedRecord(ref);
    this.ctx.emit(rec, 'export');
    return rec;
  }

  /** docker cp's stat of `path` in the container. */
  async statPath(ref: string, path: string): Promise<PathStat> {
    return statPath(await this.mountedRecord(ref), path);
  }

  /**
   * docker cp out of the container: `consume` gets the path's stat and its
   * tar stream, and reads it while a running container is frozen.
   */
  async copyFrom(ref: string, path: string, consume: (stat: PathStat, tar: AsyncGenerator<Buffer>) => Promise<void>): Promise<void> {
    const rec = await this.mountedRecord(ref);
    await frozenDuring(rec, this.freezer, async () => {
      const { stat, tar } = copyFrom(rec, path);
      this.ctx.emit(rec, 'archive-path');
      await consume(stat, tar);
    });
  }

  /** docker cp into the container: extracts the tar `data` at `path`, a running container frozen meanwhile. */
  async copyTo(ref: string, path: string, data: AsyncIterable<Buffer>, opts: CopyToOptions): Promise<ExtractResult> {
    const rec = await this.mountedRecord(ref);
    const r = await frozenDuring(rec, this.freezer, () => copyTo(rec, path, data, opts));
    this.ctx.emit(rec, 'extract-to-dir');
    return r;
  }
}
