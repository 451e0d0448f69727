// Turns a sequence of Changes into an OCI layer tar, as a stream of chunks.
// Hardlinks among emitted files become tar hardlinks (same dev+ino), the
// rest is one ustar/PAX entry per change (@berth/tar's writer.ts).
import { openSync, readSync, closeSync, readlinkSync } from 'node:fs';
import { devMajor, devMinor } from '@berth/sys';
import type { Change } from './driver';
import { encodeHeader, padding, END_OF_ARCHIVE, type TarWriteHeader } from '@berth/tar';
import type { TarEntryType } from '@berth/tar';
import { contentXattrs } from './fsmeta';

const CHUNK = 1 << 20;

export function* tarChanges(changes: Iterable<Change>): Generator<Buffer> {
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
    const fd = openSync(c.path, 'r');
    try {
      let left = size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
        const n = readSync(fd, buf, 0, buf.length, size - left);
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
      closeSync(fd);
    }
    const pad = padding(size);
    if (pad) yield Buffer.alloc(pad);
  }
  yield END_OF_ARCHIVE;
}
