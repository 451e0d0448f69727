// SnapshotDriver: the one interface the overlay and copy drivers implement
// (containerd's snapshots.Snapshotter, minus the metadata, which LayerStore
// keeps in one place for every driver). A driver owns the on-disk shape of a
// snapshot directory and how it is mounted; it never mounts anything itself
// (it returns mounts, LayerStore or the runtime applies them) and never
// decides what may be removed.
//
// Vocabulary:
//  - snapshot: a directory tree identified by a storage `id` (short, random,
//    used in paths) and by a user `key` in the metadata. Kinds: committed
//    (read-only, a layer, key = chain ID when made by applyLayer), active
//    (writable root of a container), view (read-only root).
//  - parents: the ids of the committed chain below a snapshot, NEAREST FIRST
//    (parents[0] is the direct parent, the last one the base layer).
//  - staging dir: `<root>/tmp/<id>`, where a new snapshot is built before it
//    is published by rename to `<root>/snapshots/<id>`; a crash leaves only
//    staging dirs, which LayerStore removes at start.
import type { BigIntStats } from 'node:fs';
import type { WhiteoutMode } from './unpack';

export type DriverName = 'overlay' | 'copy';
export type SnapshotKind = 'committed' | 'active' | 'view';

/** A mount as the runtime applies it (berth.types.v1.Mount, without destination). */
export interface Mount {
  /** "overlay" or "bind". */
  type: string;
  source: string;
  /** mount(8)-style options, in order: "ro"/"rw", "rbind", "lowerdir=...". */
  options: string[];
}

/** Where and how applyLayer unpacks a layer tar for this driver. */
export interface ApplyTarget {
  /** Directory the tar is unpacked into (inside the staging dir). */
  root: string;
  whiteouts: WhiteoutMode;
  /** For 'overlay' whiteouts: resolves a path in the parent chain. */
  lower?: (rel: string) => string | null;
}

/** One change of a diff, in the order it goes into the tar. */
export type Change =
  | { kind: 'entry'; rel: string; path: string; st: BigIntStats }
  | { kind: 'whiteout'; rel: string; st?: BigIntStats }
  | { kind: 'opaque'; rel: string };

export interface Usage {
  /** Bytes of disk the snapshot's own data uses (st_blocks * 512, hardlinks once). */
  size: number;
  /** Inodes the snapshot's own data uses. */
  inodes: number;
}

export interface SnapshotDriver {
  readonly name: DriverName;
  /** Called once by LayerStore.open with the store root (creates driver dirs). */
  init(root: string): void;
  /**
   * Builds a new active or view snapshot in the staging dir `dir`. overlay:
   * an empty upper and work dir; copy: a full copy of parents[0] (active) or
   * nothing (a view binds its parent read-only).
   */
  prepare(dir: string, kind: 'active' | 'view', parents: string[]): void;
  /** Builds the staging dir for a layer and says where to unpack its tar. */
  applyTarget(dir: string, parents: string[]): ApplyTarget;
  /** After the staging dir was renamed to snapshots/<id> (overlay: the l/<id> link). */
  published(id: string): void;
  /** What to mount to see snapshot `id` (kind as stored). */
  mounts(id: string, kind: SnapshotKind, parents: string[]): Mount[];
  /** Turns an active snapshot into a committed one (overlay: drops the work dir). */
  commit(id: string): void;
  /** Removes everything the driver keeps for `id` outside snapshots/<id> (links). */
  removed(id: string): void;
  /**
   * The changes of active snapshot `id` against its parents, in tar order:
   * sorted by path, a dir's whiteouts first, a dir entry before its content.
   */
  changes(id: string, parents: string[]): Iterable<Change>;
  /** Disk use of the snapshot's own directory. */
  usage(id: string): Usage;
  /** Restores driver state at start (overlay: recreate missing l/ links). */
  recover(ids: string[]): void;
}

/** Path helpers shared by drivers. */
export function snapshotDir(root: string, id: string): string {
  return `${root}/snapshots/${id}`;
}
