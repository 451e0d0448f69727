// The two ways of finding what a snapshot changed, both yielding Changes in
// tar order (sorted names; in each dir its whiteouts first, then entries; a
// dir entry before its opaque marker and its content):
//  - upperChanges: overlay. The upper dir IS the change set: whiteout char
//    devices 0/0 become .wh.<name>, trusted.overlay.opaque=y becomes
//    .wh..wh..opq. Correct only because berth mounts with redirect_dir=off
//    and metacopy=off (docs/design/layers.md): every changed file and renamed
//    dir is whole in the upper.
//  - treeChanges: copy. Walks the snapshot and its parent side by side and
//    compares type, owner, mode, mtime, size, xattrs, link target, device
//    number and, when size and mtime agree but the mtime has no sub-second
//    part (a tool may have truncated it), the bytes, as containerd's
//    fs.Changes does.
import { constants, lstatSync, readdirSync, readlinkSync, openSync, readSync, closeSync, type BigIntStats } from 'node:fs';
import { lgetxattr } from '@berth/sys';
import type { Change } from './driver';
import { contentXattrs, OVERLAY_OPAQUE } from './fsmeta';

function sortedNames(dir: string): string[] {
  // Byte order, like Go's sort.Strings on the tar paths.
  return readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function join(rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`;
}

/**
 * `lowerRoot` is the parent's root dir (its metadata is what the upper root
 * was created with); the root itself is emitted as "./" only when changed.
 */
export function* upperChanges(upper: string, lowerRoot: string | null): Generator<Change> {
  const st = lstatSync(upper, { bigint: true });
  const lst = lowerRoot === null ? undefined : lstatSync(lowerRoot, { bigint: true });
  if (!lst || !sameMeta(upper, st, lowerRoot!, lst)) yield { kind: 'entry', rel: '', path: upper, st };
  yield* walkUpper(upper, '');
}

function* walkUpper(base: string, rel: string): Generator<Change> {
  const dir = rel === '' ? base : `${base}/${rel}`;
  const names = sortedNames(dir);
  const stats = names.map((n) => lstatSync(`${dir}/${n}`, { bigint: true }));
  for (let i = 0; i < names.length; i++) {
    const st = stats[i]!;
    if (st.isCharacterDevice() && st.rdev === 0n) yield { kind: 'whiteout', rel: join(rel, names[i]!), st };
  }
  for (let i = 0; i < names.length; i++) {
    const st = stats[i]!;
    if (st.isCharacterDevice() && st.rdev === 0n) continue;
    const r = join(rel, names[i]!);
    const p = `${dir}/${names[i]!}`;
    yield { kind: 'entry', rel: r, path: p, st };
    if (st.isDirectory()) {
      if (lgetxattr(p, OVERLAY_OPAQUE)?.toString() === 'y') yield { kind: 'opaque', rel: r };
      yield* walkUpper(base, r);
    }
  }
}

export function* treeChanges(newRoot: string, oldRoot: string | null): Generator<Change> {
  const st = lstatSync(newRoot, { bigint: true });
  const ost = oldRoot === null ? undefined : lstatSync(oldRoot, { bigint: true });
  if (!ost || !sameMeta(newRoot, st, oldRoot!, ost)) yield { kind: 'entry', rel: '', path: newRoot, st };
  yield* walkPair(newRoot, oldRoot, '');
}

function* walkAll(base: string, rel: string): Generator<Change> {
  const dir = `${base}/${rel}`;
  for (const name of sortedNames(dir)) {
    const r = join(rel, name);
    const p = `${dir}/${name}`;
    const st = lstatSync(p, { bigint: true });
    yield { kind: 'entry', rel: r, path: p, st };
    if (st.isDirectory()) yield* walkAll(base, r);
  }
}

function* walkPair(newBase: string, oldBase: string | null, rel: string): Generator<Change> {
  const ndir = rel === '' ? newBase : `${newBase}/${rel}`;
  const odir = oldBase === null ? null : rel === '' ? oldBase : `${oldBase}/${rel}`;
  const names = sortedNames(ndir);
  const oldNames = odir === null ? [] : sortedNames(odir);
  const have = new Set(names);
  for (const o of oldNames) if (!have.has(o)) yield { kind: 'whiteout', rel: join(rel, o) };
  const had = new Set(oldNames);
  for (const name of names) {
    const r = join(rel, name);
    const np = `${ndir}/${name}`;
    const nst = lstatSync(np, { bigint: true });
    const op = odir !== null && had.has(name) ? `${odir}/${name}` : null;
    const ost = op === null ? undefined : lstatSync(op, { bigint: true });
    if (!ost || op === null || fileType(nst) !== fileType(ost)) {
      yield { kind: 'entry', rel: r, path: np, st: nst };
      if (nst.isDirectory()) yield* walkAll(newBase, r);
      continue;
    }
    if (nst.isDirectory()) {
      if (!sameMeta(np, nst, op, ost)) yield { kind: 'entry', rel: r, path: np, st: nst };
      yield* walkPair(newBase, oldBase, r);
      continue;
    }
    if (!sameMeta(np, nst, op, ost) || !sameContent(np, nst, op)) yield { kind: 'entry', rel: r, path: np, st: nst };
  }
}

export function fileType(st: BigIntStats): number {
  return Number(st.mode) & 0o170000;
}

function sameMeta(np: string, n: BigIntStats, op: string, o: BigIntStats): boolean {
  if (n.mode !== o.mode || n.uid !== o.uid || n.gid !== o.gid || n.mtimeNs !== o.mtimeNs) return false;
  if (!n.isDirectory() && (n.size !== o.size || n.rdev !== o.rdev)) return false;
  return sameXattrs(contentXattrs(np), contentXattrs(op));
}

function sameXattrs(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.get(k)?.equals(v)) return false;
  return true;
}

function sameContent(np: string, n: BigIntStats, op: string): boolean {
  if (n.isSymbolicLink()) return readlinkSync(np) === readlinkSync(op);
  if (!n.isFile()) return true;
  if (n.mtimeNs % 1_000_000_000n !== 0n) return true; // full-precision mtime equal: trust it
  if (n.size === 0n) return true;
  return sameBytes(np, op);
}

function sameBytes(a: string, b: string): boolean {
  // Non-blocking and not following a final link: an entry swapped for a FIFO
  // since its lstat fails the diff (EAGAIN) instead of blocking the service.
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY;
  const fa = openSync(a, flags);
  let fb: number;
  try {
    fb = openSync(b, flags);
  } catch (e) {
    closeSync(fa);
    throw e;
  }
  try {
    const ba = Buffer.allocUnsafe(1 << 16);
    const bb = Buffer.allocUnsafe(1 << 16);
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, null);
      const nb = readSync(fb, bb, 0, bb.length, null);
      if (na !== nb) return false;
      if (na === 0) return true;
      if (!ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}
