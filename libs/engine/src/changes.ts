// docker diff on the engine's side (Engine.Changes). The layers service
// owns the writable root and already knows what changed in it: its Diff is
// the container's changes as an OCI layer tar (entries and whiteouts, in tar
// order). A tar cannot say whether a path is new or was in the image, so
// each path is looked up in a read-only view of the image's layers, made for
// the call (Layers.View + Mount, unmounted and removed after it; a crash
// leaves a view the layers GC removes as unreferenced).
//
// Classification, as moby's pkg/archive changes() does it for overlay2:
//  - a whiteout is DELETED;
//  - an entry missing from the image is ADDED;
//  - an entry present in the image is MODIFIED, except a directory whose
//    mode, owner and mtime are the image's (overlay copied it up only
//    because something under it changed): it is not listed;
//  - the directory holding an ADDED or DELETED path is MODIFIED (its entry
//    list changed) even when its own metadata did not, once;
//  - the root itself is never listed; opaque markers add nothing (the
//    directory they mark has its own entry);
//  - the mount points the runtime makes in the root for what it mounts
//    there (/etc/hosts, /etc/hostname, /etc/resolv.conf, /proc, /sys...)
//    are not the container's changes: Docker keeps them in an init layer
//    below the container's, so they never show in its diff. They are left
//    out, and the directory holding one is compared without its mtime
//    (making the mount point touched it). A volume's mount point made in the
//    root is listed, as in Docker; its content never is (not in the root).
// Only the tar headers are looked at; file bytes stream past unread.
import { lstatSync, type BigIntStats } from 'node:fs';
import { posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataLossError, ResourceExhaustedError, isNotFound } from '@berth/errors';
import { RootView, TarReader, type TarHeader } from '@berth/tar';
import type { layersV1 } from '@berth/proto';
import type { LayersClient } from './grpc-ports/layers';

export type FileChangeKind = 'added' | 'modified' | 'deleted';

export interface FileChange {
  /** Absolute in the container. */
  path: string;
  kind: FileChangeKind;
}

/** One path of a layer tar: an entry (with its header) or a whiteout. */
export interface LayerPath {
  /** Absolute ("/etc/passwd"); "/" for the root entry. */
  path: string;
  whiteout: boolean;
  header?: TarHeader;
}

/** A container that wrote more paths than this is refused rather than held in memory. */
export const MAX_CHANGES = 1_000_000;

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Reads the paths of an OCI layer tar, skipping file contents. */
export async function layerPaths(tar: AsyncIterable<Buffer>, max = MAX_CHANGES): Promise<LayerPath[]> {
  const out: LayerPath[] = [];
  const reader = new TarReader({
    onEntry(h) {
      const clean = posix.normalize('/' + h.name.replace(/^\.\//, '')).replace(/\/+$/, '') || '/';
      const base = posix.basename(clean);
      if (base === OPAQUE) return;
      if (out.length >= max) {
        throw new ResourceExhaustedError(`the container changed more than ${max} paths; list them with docker cp or export instead`, { field: 'id' });
      }
      if (base.startsWith(WHITEOUT)) out.push({ path: posix.join(posix.dirname(clean), base.slice(WHITEOUT.length)), whiteout: true });
      else out.push({ path: clean, whiteout: false, header: h });
    },
    onData() {},
    onEntryEnd() {},
  });
  for await (const chunk of tar) reader.push(chunk);
  reader.end();
  return out;
}

/** What the image has at a path: lstat, or null when it has nothing there. */
export type ImageLookup = (path: string) => BigIntStats | null;

/** Docker's init layer (moby daemon/initlayer): mount points it hides from a container's diff. */
export const MOUNT_POINTS = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/etc/mtab', '/.dockerenv', '/proc', '/sys', '/dev/pts', '/dev/shm', '/dev/console']);

/** See the header for the rules. Sorted by path (byte order). */
export function classifyChanges(paths: LayerPath[], inImage: ImageLookup): FileChange[] {
  const out: FileChange[] = [];
  // Directories already listed (tar order puts a directory before its content).
  const listedDirs = new Set<string>();
  const touchedByMountPoint = new Set(paths.filter((p) => !p.whiteout && MOUNT_POINTS.has(p.path)).map((p) => posix.dirname(p.path)));
  for (const p of paths) {
    if (p.path === '/' || (!p.whiteout && MOUNT_POINTS.has(p.path))) continue;
    let kind: FileChangeKind;
    if (p.whiteout) kind = 'deleted';
    else {
      const old = inImage(p.path);
      if (!old) kind = 'added';
      else if (p.header?.type === 'dir' && old.isDirectory() && sameDirMeta(p.header, old, touchedByMountPoint.has(p.path))) continue;
      else kind = 'modified';
    }
    if (p.header?.type === 'dir') listedDirs.add(p.path);
    if (kind !== 'modified') {
      const parent = posix.dirname(p.path);
      if (parent !== '/' && !listedDirs.has(parent)) {
        out.push({ path: parent, kind: 'modified' });
        listedDirs.add(parent);
      }
    }
    out.push({ path: p.path, kind });
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

function sameDirMeta(h: TarHeader, st: BigIntStats, ignoreMtime: boolean): boolean {
  return (Number(st.mode) & 0o7777) === h.mode && Number(st.uid) === h.uid && Number(st.gid) === h.gid && (ignoreMtime || st.mtimeNs === h.mtimeNs);
}

/** lstat of `path` in the view rooted at `root`, parents resolved inside it (RootView.at). */
export function lookupIn(root: string): ImageLookup {
  const view = new RootView(root);
  return (path) => {
    let pin;
    try {
      pin = view.at(path);
    } catch {
      return null; // a parent missing or not a directory: nothing there
    }
    try {
      return lstatSync(pin.path, { bigint: true });
    } catch {
      return null;
    } finally {
      pin.close();
    }
  };
}

type Layers = Pick<LayersClient, 'Stat' | 'View' | 'Mount' | 'Unmount' | 'Remove' | 'Diff'>;

/**
 * The changes of container `id`'s writable root (snapshot key = the
 * container id) against its image, through the layers service.
 */
export async function containerChanges(layers: Layers, id: string, signal?: AbortSignal): Promise<FileChange[]> {
  const opts = signal ? { signal } : {};
  const info = await layers.Stat({ key: id }, opts);
  const diff = layers.Diff({ key: id, gzip: false }, opts) as AsyncIterable<layersV1.DiffResponse__Output>;
  let sawResult = false;
  const paths = await layerPaths((async function* () {
    for await (const m of diff) {
      if (m.data) yield m.data;
      else if (m.result) sawResult = true;
    }
  })());
  if (!sawResult) throw new DataLossError(`the layers service ended the diff of ${id} without its result message`, { field: 'id' });
  if (!info.parent) return classifyChanges(paths, () => null);
  const viewKey = `changes-${id.slice(0, 12)}-${randomBytes(6).toString('hex')}`;
  await layers.View({ key: viewKey, parent: info.parent, labels: { 'io.berth.engine.purpose': `changes of ${id}` } }, opts);
  try {
    const { target } = await layers.Mount({ key: viewKey, target: '', uidMappings: [], gidMappings: [] }, opts);
    try {
      return classifyChanges(paths, lookupIn(target));
    } finally {
      await layers.Unmount({ key: viewKey });
    }
  } finally {
    await layers.Remove({ key: viewKey }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }
}
