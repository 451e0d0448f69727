// docker cp on the engine's side: stat, archive and extract paths of a
// container, always seen as the container sees them and never escaping its
// root (the path rules and tar code are @berth/tar's, shared with the CLI).
//
// Which view (docs/design/engine.md, "cp"):
//  - running or paused (a live init pid): the container's own mount
//    namespace through /proc/<pid>/root. Every mount shows as inside the
//    container — tmpfs, volumes, bind mounts, hosts/resolv.conf — with no
//    bookkeeping here. Paths are resolved in user space against that root
//    (RootView), so absolute and ".." symlinks stay in the container.
//  - created or exited: the writable root (the layers service's mount path,
//    recorded at create) with the record's volumes and bind mounts laid over
//    it at their destinations, and the hosts/resolv.conf/hostname files the
//    networks service wrote; tmpfs mounts have no content when nothing runs.
// Writes honour the record, before anything is written (Docker's wording):
// a path under a read-only mount is "mounted volume is marked read-only", one
// elsewhere with --read-only "container rootfs is marked read-only".
import { constants, lstatSync, readFileSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { FailedPreconditionError, fromNodeError, NotFoundError } from '@berth/errors';
import { assertsDirectory, containerAbsPath, extractTar, packTree, RootView, splitPathDirEntry, type ExtractResult, type ViewMount } from '@berth/tar';
import type { ContainerRecord, IdMapping } from './types';

/** What StatPath/CopyFrom report about a path (Docker's ContainerPathStat). */
export interface PathStat {
  name: string;
  size: number;
  /** st_mode, type bits included. */
  mode: number;
  mtimeMs: number;
  /** Absolute in-container target of a symlink, fully resolved; "" otherwise. */
  linkTarget: string;
}

export interface CopyToOptions {
  /** Keep the archive's uid/gid (cp -a). */
  copyUidGid: boolean;
  /** Allow a directory to replace a file and the reverse (off for the CLI, as Docker). */
  allowOverwriteDirWithFile: boolean;
}

const isLive = (c: ContainerRecord): boolean => (c.state === 'running' || c.state === 'paused') && c.pid > 0;

/** The container's filesystem as it sees it (see the header). */
export function containerView(c: ContainerRecord): RootView {
  if (isLive(c)) return new RootView(`/proc/${c.pid}/root`);
  if (!c.rootfs) throw new FailedPreconditionError(`container ${c.name} has no root filesystem yet`, { field: 'id' });
  const mounts: ViewMount[] = [];
  const ns = c.networkSettings;
  for (const [target, source] of [['/etc/hosts', ns.hostsPath], ['/etc/resolv.conf', ns.resolvConfPath], ['/etc/hostname', ns.hostnamePath]] as const) {
    if (source && exists(source)) mounts.push({ target, source });
  }
  for (const m of c.mounts) if (m.type !== 'tmpfs' && m.source) mounts.push({ target: m.destination, source: m.source });
  return new RootView(c.rootfs, mounts);
}

/**
 * The record of `c` with a mounted writable root. A container without a live
 * process may have lost its root's mount (a reboot). `mount` (layers Mount,
 * idempotent) brings it back as the container has it: idmapped with the
 * record's mapping under --userns auto, so owners read and write right.
 */
export async function withMountedRoot(c: ContainerRecord, mount: (key: string, idMapping?: IdMapping) => Promise<string>): Promise<ContainerRecord> {
  if (isLive(c) || !c.rootfs || isMountPoint(c.rootfs)) return c;
  return { ...c, rootfs: await mount(c.id, c.idMapping) };
}

function isMountPoint(p: string): boolean {
  // Field 5 is the mount point, with space, tab, newline and backslash as octal escapes (\040...).
  const unescape = (f: string) => f.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => unescape(l.split(' ')[4] ?? '') === p);
}

function exists(p: string): boolean {
  try { lstatSync(p); return true; } catch { return false; }
}

/** Refuses writes at resolved container path `p` the record says are read-only. */
export function assertWritable(c: ContainerRecord, p: string): void {
  let best: { destination: string; rw: boolean } | null = null;
  for (const m of c.mounts) {
    const d = posix.normalize(m.destination).replace(/\/+$/, '') || '/';
    if ((p === d || p.startsWith(d + '/') || d === '/') && (!best || d.length > best.destination.length)) best = { destination: d, rw: m.rw };
  }
  if (best) {
    if (!best.rw) throw new FailedPreconditionError(`mounted volume is marked read-only: ${best.destination} in container ${c.name} (copying to ${p})`, { field: 'path' });
    return;
  }
  if (c.hostConfig.readonlyRootfs) {
    throw new FailedPreconditionError(`container rootfs is marked read-only: container ${c.name} runs with --read-only (copying to ${p}); copy into a writable volume instead`, { field: 'path' });
  }
}

function notFound(c: ContainerRecord, path: string): NotFoundError {
  return new NotFoundError(`Could not find the file ${path} in container ${c.name}`, { field: 'path' });
}

function lstatIn(c: ContainerRecord, view: RootView, resolved: string, asked: string): Stats {
  try {
    return view.lstat(resolved);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(c, asked);
    if (code === 'ENOTDIR') throw new FailedPreconditionError(`${asked} in container ${c.name}: a component of the path is not a directory`, { field: 'path' });
    throw fromNodeError(e, `stat ${asked} in container ${c.name}`);
  }
}

/** Resolves `path` as Docker's ResolvePath does: every component but the last followed (the last too with "/" or "/."). */
function resolveSource(c: ContainerRecord, path: string): { view: RootView; abs: string; resolved: string; st: Stats } {
  const view = containerView(c);
  const abs = containerAbsPath(path);
  const resolved = view.resolve(abs, false);
  const st = lstatIn(c, view, resolved, path);
  // "file/" or "file/.": the kernel's ENOTDIR, which a walk in user space must say itself.
  if (assertsDirectory(abs) && !st.isDirectory()) throw new FailedPreconditionError(`${path} in container ${c.name} is not a directory`, { field: 'path' });
  return { view, abs, resolved, st };
}

function statOf(view: RootView, abs: string, resolved: string, st: Stats): PathStat {
  return {
    // The root's entries are named "./..." (as for "dir/."), never "/...".
    name: splitPathDirEntry(abs).base === '/' ? '.' : splitPathDirEntry(abs).base, size: st.size, mode: st.mode, mtimeMs: Math.round(st.mtimeMs),
    linkTarget: st.isSymbolicLink() ? view.resolve(resolved, true) : '',
  };
}

/** docker's HEAD /containers/{id}/archive: lstat of `path` in the container. */
export function statPath(c: ContainerRecord, path: string): PathStat {
  const { view, abs, resolved, st } = resolveSource(c, path);
  return statOf(view, abs, resolved, st);
}

/**
 * docker cp CONTAINER:path: its stat and the tar of it, entries named from
 * the path's base name. The tar is produced as it is read.
 */
export function copyFrom(c: ContainerRecord, path: string): { stat: PathStat; tar: AsyncGenerator<Buffer> } {
  const { view, abs, resolved, st } = resolveSource(c, path);
  const stat = statOf(view, abs, resolved, st);
  return { stat, tar: coalesce(packTree(view, resolved, stat.name)) };
}

/**
 * docker cp ... CONTAINER:dir: extracts the tar in `chunks` into directory
 * `path` (resolved in the container, the last symlink followed too).
 */
export async function copyTo(c: ContainerRecord, path: string, chunks: AsyncIterable<Buffer>, o: CopyToOptions): Promise<ExtractResult> {
  const view = containerView(c);
  const abs = containerAbsPath(path);
  const dstDir = view.resolve(abs, true);
  const st = lstatIn(c, view, dstDir, path);
  if (!st.isDirectory()) throw new FailedPreconditionError(`extraction point is not a directory: ${path} in container ${c.name}`, { field: 'path' });
  // Checked before reading anything, so a refused copy leaves the stream unread and nothing written.
  assertWritable(c, dstDir);
  return extractTar(view, chunks, {
    dstDir, chown: o.copyUidGid ? null : { uid: 0, gid: 0 }, noOverwriteDirNonDir: !o.allowOverwriteDirWithFile,
    assertWritable: (p) => assertWritable(c, p),
  });
}

const MESSAGE = 256 * 1024;

/** Joins the packer's many small buffers (headers, padding) into messages of up to 256 KiB. */
async function* coalesce(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const b of src) {
    if (size + b.length > MESSAGE && size > 0) { yield Buffer.concat(parts, size); parts = []; size = 0; }
    parts.push(b);
    size += b.length;
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

/**
 * Runs `fn` with a running container frozen (its cgroup's freezer), so none of
 * its processes can swap a path component for a symlink between our
 * resolution and our open (CVE-2018-15664's race; Podman's `cp --pause`).
 * A paused container is frozen already; a stopped one has no processes.
 * It is thawed after, unless it was paused (docker pause) meanwhile.
 */
export async function frozenDuring<T>(
  c: ContainerRecord,
  f: { freeze(id: string): Promise<void>; thaw(id: string): Promise<void>; stateOf(id: string): string },
  fn: () => Promise<T>,
): Promise<T> {
  if (c.state !== 'running') return fn();
  await f.freeze(c.id);
  try {
    return await fn();
  } finally {
    if (f.stateOf(c.id) === 'running') await f.thaw(c.id);
  }
}

/** S_IFMT helpers for callers that only have a PathStat. */
export const isDirMode = (mode: number): boolean => (mode & constants.S_IFMT) === constants.S_IFDIR;
export const isLinkMode = (mode: number): boolean => (mode & constants.S_IFMT) === constants.S_IFLNK;
