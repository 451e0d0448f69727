// The client side of a build context: a local directory as the tar the
// engine extracts, without what .dockerignore excludes (the docker CLI
// leaves those out of the upload too; .dockerignore itself always goes, so
// the engine applies the same rules to a tar context). Symlinks are stored,
// not followed; sockets and devices are skipped. Entries are sorted, so the
// same tree gives the same tar.
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { fromNodeError } from '@berth/errors';
import { END_OF_ARCHIVE, encodeHeader } from '@berth/tar';
import { isIgnored, mayReinclude, type IgnoreRule } from './patterns';

const CHUNK = 1 << 20;

/** Bytes of file content the pack holds, counted as it goes (for "Sending build context"). */
export interface PackStats { bytes: number }

export async function* packContext(dir: string, rules: IgnoreRule[], stats: PackStats = { bytes: 0 }): AsyncGenerator<Buffer> {
  // Each directory to visit, with the headers of excluded directories above it that are sent
  // only when something under them is (a "!dir/keep" exception needs its parents).
  const stack: { rel: string; pending: Buffer[] }[] = [{ rel: '', pending: [] }];
  while (stack.length) {
    const { rel, pending } = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(rel ? join(dir, rel) : dir).sort();
    } catch (e) {
      throw fromNodeError(e, `build context ${rel || dir}`);
    }
    const later: { rel: string; pending: Buffer[] }[] = [];
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(dir, r);
      let st: Stats;
      try { st = lstatSync(abs); } catch { continue; }
      const ignored = r !== '.dockerignore' && isIgnored(rules, r);
      const base = { name: r, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeNs: mtime(st) };
      if (st.isDirectory()) {
        const header = encodeHeader({ ...base, type: 'dir', size: 0 });
        if (!ignored) {
          yield* pending.splice(0);
          yield header;
          later.push({ rel: r, pending: [] });
        } else if (mayReinclude(rules, r)) {
          later.push({ rel: r, pending: [...pending, header] });
        }
        continue;
      }
      if (ignored) continue;
      if (st.isSymbolicLink()) {
        yield* pending.splice(0);
        yield encodeHeader({ ...base, type: 'symlink', size: 0, linkname: readlinkSync(abs) });
        continue;
      }
      if (!st.isFile()) continue;
      yield* pending.splice(0);
      yield* packFile(abs, base, st.size);
      stats.bytes += st.size;
    }
    // Depth first, in sorted order. A child's pending list shares nothing with its parent's once sent.
    for (const l of later.reverse()) stack.push(l);
  }
  yield END_OF_ARCHIVE;
}

const mtime = (st: Stats): bigint => BigInt(Math.round(st.mtimeMs)) * 1_000_000n;

function* packFile(abs: string, base: { name: string; mode: number; uid: number; gid: number; mtimeNs: bigint }, size: number): Generator<Buffer> {
  let fd: number;
  try { fd = openSync(abs, 'r'); } catch (e) { throw fromNodeError(e, `build context file ${base.name}`); }
  try {
    yield encodeHeader({ ...base, type: 'file', size });
    let left = size;
    // Exactly `size` bytes, as the header promised: a file that grew is cut, one that shrank is padded with zeros.
    while (left > 0) {
      const b = Buffer.alloc(Math.min(CHUNK, left));
      const n = readSync(fd, b, 0, b.length, null);
      if (n === 0) { yield b; left -= b.length; continue; }
      yield b.subarray(0, n);
      left -= n;
    }
    const pad = size % 512 === 0 ? 0 : 512 - (size % 512);
    if (pad) yield Buffer.alloc(pad);
  } finally {
    closeSync(fd);
  }
}
