// Volume events: the volume store, publishing berth.engine.volume.created
// when a volume comes into being (named or anonymous; an idempotent create
// of an existing name is no event) and .removed when it is gone (rm -v,
// volume rm, prune), each after the database change is committed; and
// Docker's mount and unmount (.mounted, .unmounted): a container using the
// volume started, its process ended (volumeMountEvents).
import type { Db } from './db';
import type { ContainerEvent } from './events';
import type { ContainerRecord } from './types';
import { VolumeStore, type VolumeRecord } from './volumes';

export type VolumeEventAction = 'created' | 'removed';

/** berth.engine.volume.mounted / .unmounted payloads (berth.events.v1.VolumeEvent). */
export interface VolumeMountEvent {
  name: string;
  driver: string;
  action: 'mounted' | 'unmounted';
  labels: Record<string, string>;
  container: string;
  /** mounted only: where, and whether writable. */
  destination?: string;
  readWrite?: boolean;
}

/**
 * Docker's volume mount events for a container event: "mount" for each of
 * its volumes when it started, "unmount" when its process died (Docker logs
 * them as the container's mounts are set up and released). None otherwise.
 */
export function volumeMountEvents(ev: ContainerEvent, rec: ContainerRecord): VolumeMountEvent[] {
  const action = ev.action === 'started' ? 'mounted' : ev.action === 'die' ? 'unmounted' : undefined;
  if (!action) return [];
  return rec.mounts.filter((m) => m.type === 'volume' && m.name).map((m) => ({
    name: m.name, driver: 'local', action, labels: {}, container: rec.id,
    ...(action === 'mounted' ? { destination: m.destination, readWrite: m.rw } : {}),
  }));
}

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
