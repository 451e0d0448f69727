// Turns a sequence of Changes into an OCI layer tar, as a stream of chunks.
// Hardlinks among emitted files become tar hardlinks (same dev+ino), the
// rest is one ustar/PAX entry per change (@berth/tar's writer.ts).
//
// A container's files are read as @berth/sys reads anything a container
// controls: opened in the snapshot's root (openat2 RESOLVE_IN_ROOT, the last
// component not followed), refused unless still a regular file (a FIFO
// swapped in since the scan blocked the open, and the service, for good),
// and read off the event loop with a deadline per chunk.
import { closeSync, readlinkSync } from 'node:fs';
import { NotFoundError } from '@berth/errors';
import { devMajor, devMinor, openContainerFile, readContainerChunk } from '@berth/sys';
import type { Change } from './driver';
import { encodeHeader, padding, END_OF_ARCHIVE, type TarWriteHeader } from '@berth/tar';
import type { TarEntryType } from '@berth/tar';
import { contentXattrs } from './fsmeta';

const CHUNK = 1 << 20;

export async function* tarChanges(changes: Iterable<Change>): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  for (const c of changes) {
    if (c.kind === 'whiteout' || c.kind === 'opaque') {
      const slash = c.rel.lastIndexOf('/');
      const dir = slash < 0 ? '' : c.rel.slice(0, slash + 1);
      const name = c.kind === 'opaque' ? `${c.rel}/.wh..wh..opq` : `${dir}.wh.${c.rel.slice(slash + 1)}`;
      // Whiteout entries are empty regular files; mtime from the whiteout
      // itself when known so the same upper always gives the same bytes.
      yield encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtimeNs: c.kind === 'whiteout' && c.st ? c.st.mtimeNs - (c.st.mtimeNs % 1_000_000_000n) : 0n });
      continue;
    }
    const st = c.st;
    const base: Omit<TarWriteHeader, 'type'> = {
      name: c.rel === '' ? './' : c.rel, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), size: 0, mtimeNs: st.mtimeNs,
      xattrs: contentXattrs(c.path),
    };
    if (!st.isDirectory() && st.nlink > 1n) {
      const k = `${st.dev}:${st.ino}`;
      const first = links.get(k);
      if (first !== undefined) {
        yield encodeHeader({ ...base, type: 'hardlink', linkname: first, xattrs: new Map() });
        continue;
      }
      links.set(k, c.rel);
    }
    let type: TarEntryType;
    if (st.isFile()) type = 'file';
    else if (st.isDirectory()) type = 'dir';
    else if (st.isSymbolicLink()) type = 'symlink';
    else if (st.isCharacterDevice()) type = 'char';
    else if (st.isBlockDevice()) type = 'block';
    else if (st.isFIFO()) type = 'fifo';
    else continue; // sockets are not layer content
    if (type === 'symlink') {
      yield encodeHeader({ ...base, type, linkname: readlinkSync(c.path) });
      continue;
    }
    if (type === 'char' || type === 'block') {
      yield encodeHeader({ ...base, type, devMajor: devMajor(st.rdev), devMinor: devMinor(st.rdev) });
      continue;
    }
    if (type !== 'file') {
      yield encodeHeader({ ...base, type });
      continue;
    }
    const size = Number(st.size);
    yield encodeHeader({ ...base, type, size });
    // c.path is <snapshot root>/<rel>: opened from that root.
    const root = c.path.slice(0, c.path.length - c.rel.length - 1) || '/';
    const f = openContainerFile(root, c.rel, { follow: false, name: `${c.rel} in the layer` });
    if (!f) throw new NotFoundError(`${c.rel} went away while the layer was archived: stop the container and try again`, { field: 'path' });
    const fd = f.fd;
    let settled: Promise<void> = Promise.resolve();
    try {
      let left = size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
        const r = readContainerChunk(fd, buf, size - left, { name: `${c.rel} in the layer` });
        settled = r.settled;
        const n = await r.bytes;
        if (n === 0) {
          // File shrank while we read it (it is in use): pad with zeros so
          // the tar stays well formed; the caller should diff a stopped container.
          buf.fill(0);
          yield buf;
          left -= buf.length;
          continue;
        }
        yield n === buf.length ? buf : buf.subarray(0, n);
        left -= n;
      }
    } finally {
      // After the last read returned (one past its deadline may still run).
      void settled.then(() => closeSync(fd));
    }
    const pad = padding(size);
    if (pad) yield Buffer.alloc(pad);
  }
  yield END_OF_ARCHIVE;
}
