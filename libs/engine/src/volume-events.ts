// Volume events: the volume store, publishing berth.engine.volume.created
// when a volume comes into being (named or anonymous; an idempotent create
// of an existing name is no event) and .removed when it is gone (rm -v,
// volume rm, prune), each after the database change is committed.
import type { Db } from './db';
import { VolumeStore, type VolumeRecord } from './volumes';

export type VolumeEventAction = 'created' | 'removed';

export class PublishingVolumeStore extends VolumeStore {
  constructor(db: Db, stateDir: string, private readonly publish: (action: VolumeEventAction, v: VolumeRecord) => void) {
    super(db, stateDir);
  }

  override create(opts: Parameters<VolumeStore['create']>[0] = {}): VolumeRecord {
    const existed = opts.name ? this.find(opts.name) !== undefined : false;
    const v = super.create(opts);
    if (!existed) this.publish('created', v);
    return v;
  }

  override remove(name: string, opts: { force?: boolean } = {}): void {
    const v = this.find(name);
    super.remove(name, opts);
    if (v) this.publish('removed', v);
  }
}
