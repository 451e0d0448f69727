// Reading a file a container controls (its /etc/passwd and /etc/group, a
// file docker cp archives), so that what the container put there cannot
// hang, blind or exhaust the service reading it. Every such read goes
// through here:
//
//  - in-root: the path is resolved by the kernel with openat2
//    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS from the container's root, so
//    "..", absolute symlinks and /proc/self/root-style links stay inside;
//  - without side effects: it is opened O_PATH first (a FIFO, a device or a
//    socket is not opened at all: an open(O_RDONLY) of a FIFO blocks until a
//    writer comes, and held a libuv pool thread of the one berthd for good),
//    fstat'ed, and anything but a regular file is refused with an error
//    naming the file; only then is that same inode reopened through
//    /proc/self/fd/<fd> with O_RDONLY | O_NONBLOCK | O_NOCTTY;
//  - bounded in size: the caller's cap, checked against fstat and while
//    reading (a file that grows meanwhile);
//  - bounded in time: reads run on the libuv pool (never on the event loop)
//    and each has a deadline. A regular file's read returns on a local
//    filesystem; on a hung FUSE or NFS mount the caller still gets its
//    error at the deadline, and the one pool thread is back when the kernel
//    returns.
import { closeSync, constants, fstatSync, openSync, read, type Stats } from 'node:fs';
import { ErrorCode, FailedPreconditionError, fromNodeError, isBerthError, makeError } from '@berth/errors';
import { openat2, O_PATH, RESOLVE } from './openat2';

const O_CLOEXEC = 0o2000000;
/** Default deadline of one read (ms). */
export const CONTAINER_READ_TIMEOUT_MS = 5000;

export interface ContainerFileOptions {
  /** How errors name the file, e.g. "/etc/passwd in the container" (default: the path). */
  name?: string;
  /** Deadline of each read, ms (default CONTAINER_READ_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** An open regular file of a container: read it with readContainerChunk, then closeSync(fd). */
export interface ContainerFile {
  fd: number;
  size: number;
  stat: Stats;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a file';
}

/**
 * Opens `path` inside `root` (a host directory that is the container's "/")
 * for reading, if it is a regular file; null when it does not exist.
 * `follow` false refuses a final symlink instead of resolving it (in root).
 */
export function openContainerFile(root: string, path: string, o: ContainerFileOptions & { follow?: boolean } = {}): ContainerFile | null {
  const name = o.name ?? path;
  let rootFd: number;
  try {
    rootFd = openSync(root, O_PATH | constants.O_DIRECTORY | O_CLOEXEC);
  } catch (e) {
    throw fromNodeError(e, `open the container root ${root}`);
  }
  let pathFd: number;
  try {
    const rel = path.replace(/^\/+/, '') || '.';
    pathFd = openat2(rootFd, rel, O_PATH | O_CLOEXEC | (o.follow === false ? constants.O_NOFOLLOW : 0), RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
  } catch (e) {
    if (isBerthError(e) && (e.errno === 'ENOENT' || e.errno === 'ENOTDIR')) return null;
    if (isBerthError(e) && e.errno === 'ELOOP') throw makeError(e.code, `${name}: too many levels of symbolic links (or a final link with follow off)`, { field: 'path', errno: 'ELOOP', cause: e });
    throw isBerthError(e) ? makeError(e.code, `${name}: ${e.message}`, { field: 'path', ...(e.errno ? { errno: e.errno } : {}), cause: e }) : e;
  } finally {
    closeSync(rootFd);
  }
  let fd = -1;
  try {
    const st = fstatSync(pathFd);
    if (!st.isFile()) throw new FailedPreconditionError(`${name} is not a regular file (${kindOf(st)}): berth reads only regular files from a container`, { field: 'path' });
    try {
      fd = openSync(`/proc/self/fd/${pathFd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | O_CLOEXEC);
    } catch (e) {
      throw fromNodeError(e, `open ${name}`);
    }
    const st2 = fstatSync(fd);
    if (!st2.isFile() || st2.ino !== st.ino || st2.dev !== st.dev) throw new FailedPreconditionError(`${name} changed while it was opened: try again`, { field: 'path' });
    return { fd, size: st2.size, stat: st2 };
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    throw e;
  } finally {
    closeSync(pathFd);
  }
}

/**
 * Reads up to buf.length bytes at `position` on the libuv pool, with a
 * deadline. `settled` resolves when the read itself returned (after a
 * deadline too): close the fd only then, or a read still queued could land
 * on a reused descriptor.
 */
export function readContainerChunk(fd: number, buf: Buffer, position: number, o: ContainerFileOptions = {}): { bytes: Promise<number>; settled: Promise<void> } {
  const ms = o.timeoutMs ?? CONTAINER_READ_TIMEOUT_MS;
  let settle!: () => void;
  const settled = new Promise<void>((r) => (settle = r));
  const bytes = new Promise<number>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(makeError(ErrorCode.DeadlineExceeded, `reading ${o.name ?? 'a file of the container'} took more than ${ms} ms: its filesystem does not answer`, { field: 'path' }));
    }, ms);
    read(fd, buf, 0, buf.length, position, (err, n) => {
      settle();
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(fromNodeError(err, `read ${o.name ?? 'a file of the container'}`));
      else resolve(n);
    });
  });
  return { bytes, settled };
}

/**
 * The whole content of regular file `path` inside `root`, at most maxBytes
 * (more is an error naming the file); null when it does not exist.
 */
export async function readContainerFile(root: string, path: string, o: ContainerFileOptions & { maxBytes: number }): Promise<Buffer | null> {
  const name = o.name ?? path;
  const f = openContainerFile(root, path, o);
  if (!f) return null;
  const tooLarge = () => new FailedPreconditionError(`${name} is larger than the ${o.maxBytes} bytes berth reads from a container`, { field: 'path' });
  // A read that timed out may still complete into the buffer: the fd is
  // closed only once it did, and the buffer is then dropped.
  let inFlight: Promise<void> = Promise.resolve();
  try {
    if (f.size > o.maxBytes) throw tooLarge();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // One byte past the cap tells a file that grew since fstat.
      const buf = Buffer.allocUnsafe(Math.min(64 * 1024, o.maxBytes + 1 - total));
      const r = readContainerChunk(f.fd, buf, total, { ...o, name });
      inFlight = r.settled;
      const n = await r.bytes;
      if (n === 0) break;
      total += n;
      if (total > o.maxBytes) throw tooLarge();
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    void inFlight.finally(() => closeSync(f.fd));
  }
}
