// Archiving a tree seen through a RootView as a tar stream (docker cp's
// source side): the entry at view path `path` is named `name`, a directory's
// children follow as `name/child`, in sorted order. Symlinks are stored, never
// followed (the view resolved the top beforehand); files with several links
// become tar hardlinks to their first path, as GNU tar and Docker do.
import { closeSync, lstatSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { DataLossError, NotFoundError, fromNodeError } from '@berth/errors';
import { devMajor, devMinor, lgetxattr, openContainerFile, readContainerChunk } from '@berth/sys';
import type { TarEntryType } from './reader';
import type { RootView } from './root-view';
import { encodeHeader, END_OF_ARCHIVE, padding } from './writer';

const CHUNK = 1 << 20;
const CAPABILITY = 'security.capability';

type FileBase = { name: string; mode: number; uid: number; gid: number; mtimeNs: bigint; xattrs?: Map<string, Buffer> };

function entryType(st: Stats): TarEntryType | null {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return null; // sockets: tar has no type for them (GNU tar skips them too)
}

const join = (dir: string, child: string): string => (dir === '/' ? `/${child}` : `${dir}/${child}`);

/**
 * Yields the tar of view path `path` (already resolved) with top entry name
 * `name` ("hosts", "etc", "." for "dir/."). Ends with the end-of-archive
 * marker.
 */
export async function* packTree(view: RootView, path: string, name: string): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  const stack: Array<{ path: string; name: string }> = [{ path, name }];
  while (stack.length > 0) {
    const e = stack.pop()!;
    // Everything about this entry goes through its pinned parent (RootView.at): no path is re-resolved.
    const pin = view.at(e.path);
    let header: Buffer | null = null;
    let fd: number | null = null;
    let size = 0;
    let base: FileBase;
    try {
      let st: Stats;
      try {
        st = view.isMountTarget(e.path) ? statSync(pin.path) : lstatSync(pin.path);
      } catch (err) {
        // Gone since its directory was read (a live container): skip it, as tar does.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && e.path !== path) continue;
        throw fromNodeError(err, `stat ${e.path}`);
      }
      const type = entryType(st);
      if (!type) continue;
      // File capabilities travel with the file, as in Docker's archives (security.capability only).
      const cap = type === 'file' ? lgetxattr(pin.path, CAPABILITY) : null;
      base = {
        name: e.name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeNs: BigInt(Math.round(st.mtimeMs * 1e6)),
        ...(cap ? { xattrs: new Map([[CAPABILITY, cap]]) } : {}),
      };
      if (type === 'file' && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first !== undefined) {
          header = encodeHeader({ ...base, type: 'hardlink', size: 0, linkname: first });
          continue;
        }
        links.set(key, e.name);
      }
      if (type === 'symlink') {
        header = encodeHeader({ ...base, type, size: 0, linkname: readlinkSync(pin.path) });
      } else if (type === 'char' || type === 'block') {
        header = encodeHeader({ ...base, type, size: 0, devMajor: devMajor(st.rdev), devMinor: devMinor(st.rdev) });
      } else if (type === 'dir') {
        header = encodeHeader({ ...base, type, size: 0 });
        let children: string[];
        try {
          children = readdirSync(pin.path);
        } catch (err) {
          throw fromNodeError(err, `read directory ${e.path}`);
        }
        children.sort();
        const prefix = e.name.endsWith('/') ? e.name : `${e.name}/`;
        for (let i = children.length - 1; i >= 0; i--) stack.push({ path: join(e.path, children[i]!), name: prefix + children[i]! });
      } else if (type === 'fifo') {
        header = encodeHeader({ ...base, type, size: 0 });
      } else {
        // The container's own bounded read (@berth/sys container-file): the
        // entry is opened O_PATH, checked to still be a regular file, then
        // reopened non-blocking; a FIFO swapped in since the lstat is refused
        // instead of blocking. Its content is read off the event loop.
        const slash = pin.path.lastIndexOf('/');
        const f = openContainerFile(pin.path.slice(0, slash) || '/', pin.path.slice(slash + 1), { follow: view.isMountTarget(e.path), name: e.path });
        if (!f) throw new NotFoundError(`${e.path} went away while it was copied; copy it again`, { field: 'path' });
        fd = f.fd;
        size = st.size;
      }
    } finally {
      pin.close();
      if (header) yield header;
    }
    if (fd !== null) yield* fileEntry(fd, e.path, base, size);
  }
  yield END_OF_ARCHIVE;
}

async function* fileEntry(fd: number, path: string, base: FileBase, size: number): AsyncGenerator<Buffer> {
  // Closed once no read is in flight (one past its deadline may still be).
  let settled: Promise<void> = Promise.resolve();
  try {
    yield encodeHeader({ ...base, type: 'file', size });
    let done = 0;
    while (done < size) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - done));
      const r = readContainerChunk(fd, buf, done, { name: path });
      settled = r.settled;
      const n = await r.bytes;
      if (n === 0) {
        // Shrank while being read: the header promised `size` bytes, so the archive would be corrupt.
        throw new DataLossError(`${path} shrank from ${size} to ${done} bytes while it was copied; copy it again`, { field: 'path' });
      }
      done += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
    const pad = padding(size);
    if (pad > 0) yield Buffer.alloc(pad);
  } finally {
    void settled.then(() => closeSync(fd));
  }
}
