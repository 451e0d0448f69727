// Unpacks one OCI layer tar into a directory, entry by entry, synchronously
// (fs *Sync calls between chunks: no promise or threadpool hop per file, the
// event loop still turns between chunks). Two whiteout modes:
//  - 'overlay': the directory is an empty overlay upper of its own; OCI
//    whiteouts become overlayfs ones (.wh.x -> char device 0/0 at x,
//    .wh..wh..opq -> xattr trusted.overlay.opaque=y on the dir). `lower`
//    answers questions about the parent chain (is "lib" a symlink below?).
//  - 'delete': the directory already holds a full copy of the parent chain
//    (copy driver); whiteouts delete, opaque dirs drop what the lower had.
// Safety: names are checked (paths.ts) before use, every parent component is
// lstat'ed and must be a real directory (a symlink in the way is rejected, in
// this layer or below it, so nothing is ever written through one), files are
// created with O_EXCL|O_NOFOLLOW after removing what was there. Callers
// unpack into a private temp dir and throw it away on any error, so a
// rejected layer leaves no trace. See docs/design/layers.md.
import {
  closeSync, constants as C, fchmodSync, fchownSync, ftruncateSync, linkSync, lstatSync, mkdirSync, openSync,
  readdirSync, rmSync, symlinkSync, unlinkSync, writeSync, lchownSync, chmodSync, copyFileSync, futimesSync, type BigIntStats,
} from 'node:fs';
import { InvalidArgumentError } from '@berth/errors';
import { mknod, S_IF, lsetxattr, fsetxattr, futimens, lutimens } from '@berth/sys';
import type { TarHeader, TarSink } from '@berth/tar';
import { cleanEntryPath, parentOf, baseOf } from './paths';
import { copyMetadata, setXattrs, OVERLAY_OPAQUE } from './fsmeta';

export type WhiteoutMode = 'overlay' | 'delete';

export interface UnpackOptions {
  /** Absolute path of the directory to unpack into. */
  root: string;
  whiteouts: WhiteoutMode;
  /**
   * overlay mode: absolute path of `rel` as the parent chain shows it (the
   * topmost layer holding it, whiteouts and opaque dirs honoured), or null.
   */
  lower?: (rel: string) => string | null;
}

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';
const OPEN_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | 0o2000000 /* O_CLOEXEC */;
/** Files at least this big get all-zero 4 KiB blocks turned into holes. */
const SPARSE_MIN = 64 * 1024;
const HOLE = 4096;
const ZERO_BLOCK = Buffer.alloc(HOLE);
const OPAQUE_Y = Buffer.from('y');

interface Times { atimeNs: bigint; mtimeNs: bigint }

export class Unpacker implements TarSink {
  private readonly root: string;
  /** Relative dirs known to be real directories in root ("" is root). */
  private readonly dirsOk = new Set<string>(['']);
  /** Paths this layer created (for 'delete' mode opaque dirs and same-layer whiteouts). */
  private readonly created = new Set<string>();
  /** Dir entries of the tar: their times are set after all contents. */
  private readonly dirTimes = new Map<string, bigint>();
  /** Original times of dirs whose children changed without a tar entry for the dir. */
  private readonly touched = new Map<string, Times>();
  private fd = -1;
  private cur: TarHeader | null = null;
  private curRel = '';
  private holes = false;
  private skipData = false;

  /** Dirs (relative) with the setgid bit: new files there inherit the dir's group. */
  private readonly setgidDirs = new Set<string>();
  private readonly asRoot = process.getuid?.() === 0 && process.getgid?.() === 0;
  /** The process umask, read once: open(2) applies it to the mode we pass. */
  private readonly umask = process.umask();

  /** Mode open(2) gave a new file created with `mode & 0777`. */
  private createdMode(mode: number): number {
    return mode & 0o777 & ~this.umask;
  }

  constructor(private readonly opts: UnpackOptions) {
    this.root = opts.root;
    if (lstatSync(this.root).mode & 0o2000) this.setgidDirs.add('');
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  onEntry(h: TarHeader): void {
    const rel = cleanEntryPath(h.name, h.name);
    this.cur = h;
    this.curRel = rel;
    this.skipData = true;
    if (rel === '') {
      if (h.type !== 'dir') throw new InvalidArgumentError(`tar entry "${h.name}" names the layer root but is not a directory`, { field: h.name });
      this.applyDirMeta(rel, h);
      return;
    }
    const base = baseOf(rel);
    if (base.startsWith(WH_PREFIX)) {
      this.whiteout(rel, base, h);
      return;
    }
    this.ensureParent(rel, h);
    // Creating or replacing rel changes its parent's mtime: remember it first.
    this.touch(parentOf(rel));
    switch (h.type) {
      case 'file': {
        // Create first, clear and retry only when something is there: saves
        // an lstat per file, the common case being a fresh name.
        const p = this.abs(rel);
        const mode = h.mode & 0o777;
        try {
          this.fd = openSync(p, OPEN_FLAGS, mode);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          this.clearTarget(rel, false);
          this.fd = openSync(p, OPEN_FLAGS, mode);
        }
        this.holes = h.sparse !== null || h.size >= SPARSE_MIN;
        this.pendLen = 0;
        this.skipData = false;
        return;
      }
      case 'dir': {
        const st = this.lstat(rel);
        let opaque = false;
        if (st && !st.isDirectory()) {
          opaque = this.opts.whiteouts === 'overlay' && isWhiteout(st);
          this.clearTarget(rel, true);
        }
        if (!st || !st.isDirectory()) {
          this.touch(parentOf(rel));
          mkdirSync(this.abs(rel), 0o700);
        }
        // A whiteout then a dir of the same name in one layer: the lower dir
        // is gone and this one starts empty, which overlayfs says with opaque.
        if (opaque) lsetxattr(this.abs(rel), OVERLAY_OPAQUE, OPAQUE_Y);
        this.dirsOk.add(rel);
        this.created.add(rel);
        this.applyDirMeta(rel, h);
        return;
      }
      case 'symlink': {
        this.clearTarget(rel, false);
        const p = this.abs(rel);
        symlinkSync(h.linkname, p);
        lchownSync(p, h.uid, h.gid);
        setXattrs(p, h.xattrs, true);
        lutimens(p, h.mtimeNs, h.mtimeNs);
        this.created.add(rel);
        return;
      }
      case 'hardlink':
        this.hardlink(rel, h);
        return;
      case 'char': case 'block': case 'fifo': {
        this.clearTarget(rel, false);
        const p = this.abs(rel);
        const t = h.type === 'char' ? S_IF.CHR : h.type === 'block' ? S_IF.BLK : S_IF.FIFO;
        mknod(p, t | 0o600, h.devMajor, h.devMinor);
        lchownSync(p, h.uid, h.gid);
        chmodSync(p, h.mode);
        setXattrs(p, h.xattrs, false);
        lutimens(p, h.mtimeNs, h.mtimeNs);
        this.created.add(rel);
        return;
      }
    }
  }

  onData(chunk: Buffer, offset: number): void {
    if (this.skipData) return;
    if (!this.holes) {
      writeSync(this.fd, chunk, 0, chunk.length, offset);
      return;
    }
    // Leave 4 KiB-aligned zero blocks unwritten: they read back as zeros and
    // take no space (sparse files stay sparse, even from non-sparse tars).
    // Chunks rarely start on a block boundary, so a partial block is kept
    // in `pend` until it is complete.
    let i = 0;
    const n = chunk.length;
    if (this.pendLen > 0 && this.pendOff + this.pendLen !== offset) this.flushPend();
    if (this.pendLen > 0 || offset % HOLE !== 0) {
      if (this.pendLen === 0) this.pendOff = offset - (offset % HOLE);
      // Fill the pending block up to its end (or the chunk's end).
      const blockStart = this.pendOff;
      const have = offset - blockStart;
      if (this.pendLen === 0 && have > 0) {
        // Starting mid-block (sparse segment): bytes before `offset` are holes/earlier data.
        this.pend.fill(0, 0, have);
        this.pendLen = have;
        this.pendFromMid = true;
      }
      const k = Math.min(HOLE - this.pendLen, n);
      chunk.copy(this.pend, this.pendLen, 0, k);
      this.pendLen += k;
      i = k;
      if (this.pendLen === HOLE) this.flushPend();
    }
    while (i + HOLE <= n) {
      const fileOff = offset + i;
      if (chunk.subarray(i, i + HOLE).equals(ZERO_BLOCK)) { i += HOLE; continue; }
      let j = i + HOLE;
      // Extend the write over following non-zero blocks in one call.
      while (j + HOLE <= n && !chunk.subarray(j, j + HOLE).equals(ZERO_BLOCK)) j += HOLE;
      writeSync(this.fd, chunk, i, j - i, fileOff);
      i = j;
    }
    if (i < n) {
      this.pendOff = offset + i;
      this.pendFromMid = false;
      chunk.copy(this.pend, 0, i, n);
      this.pendLen = n - i;
    }
  }

  private pend = Buffer.alloc(HOLE);
  private pendLen = 0;
  private pendOff = 0;
  /** The pending block began mid-block: its head must not overwrite earlier data. */
  private pendFromMid = false;

  private flushPend(): void {
    if (this.pendLen === 0) return;
    const b = this.pend.subarray(0, this.pendLen);
    if (!(this.pendLen === HOLE && b.equals(ZERO_BLOCK)) && !isAllZero(b)) {
      if (this.pendFromMid) {
        // Only write from the first non-zero byte: the head may belong to the previous segment.
        let z = 0;
        while (z < b.length && b[z] === 0) z++;
        writeSync(this.fd, b, z, b.length - z, this.pendOff + z);
      } else {
        writeSync(this.fd, b, 0, b.length, this.pendOff);
      }
    }
    this.pendLen = 0;
    this.pendFromMid = false;
  }

  onEntryEnd(): void {
    const h = this.cur;
    if (!h || this.fd < 0) return;
    const fd = this.fd;
    try {
      if (this.holes) {
        this.flushPend();
        ftruncateSync(fd, h.size);
      }
      // A new file is already root:root (we run as root) unless its dir is
      // setgid, and has the mode open(2) gave it; skip calls that change nothing.
      // (fchmod still comes after fchown when needed: chown clears setuid.)
      if (h.uid !== 0 || h.gid !== 0 || !this.asRoot || this.setgidDirs.has(parentOf(this.curRel))) fchownSync(fd, h.uid, h.gid);
      if (h.mode !== this.createdMode(h.mode)) fchmodSync(fd, h.mode);
      for (const [k, v] of h.xattrs) fsetxattr(fd, k, v);
      setTimes(fd, h.mtimeNs);
    } finally {
      this.fd = -1;
      closeSync(fd);
    }
    this.created.add(this.curRel);
  }

  /** After the last entry: directory times, deepest change last. */
  finish(): void {
    for (const [rel, t] of this.touched) {
      if (!this.dirTimes.has(rel)) lutimens(this.abs(rel), t.atimeNs, t.mtimeNs);
    }
    for (const [rel, m] of this.dirTimes) lutimens(this.abs(rel), m, m);
  }

  /** Closes what is open after a failure (the caller removes the directory). */
  abort(): void {
    if (this.fd >= 0) {
      try { closeSync(this.fd); } catch { /* already failing */ }
      this.fd = -1;
    }
  }

  private applyDirMeta(rel: string, h: TarHeader): void {
    const p = this.abs(rel);
    if (h.mode & 0o2000) this.setgidDirs.add(rel); else this.setgidDirs.delete(rel);
    lchownSync(p, h.uid, h.gid);
    chmodSync(p, h.mode);
    setXattrs(p, h.xattrs, false);
    this.dirTimes.set(rel, h.mtimeNs);
  }

  private lstat(rel: string): BigIntStats | undefined {
    return lstatSync(this.abs(rel), { bigint: true, throwIfNoEntry: false });
  }

  /** Records a dir's times before its first child changes, to restore them in finish(). */
  private touch(dirRel: string): void {
    if (this.touched.has(dirRel) || this.dirTimes.has(dirRel)) return;
    const st = this.lstat(dirRel);
    if (st) this.touched.set(dirRel, { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
  }

  /** Removes whatever is at rel unless both it and the new entry are dirs. */
  private clearTarget(rel: string, newIsDir: boolean): void {
    const st = this.lstat(rel);
    if (!st) return;
    if (st.isDirectory()) {
      if (newIsDir) return;
      this.touch(parentOf(rel));
      rmSync(this.abs(rel), { recursive: true, force: true });
      this.forgetDirs(rel);
      return;
    }
    this.touch(parentOf(rel));
    unlinkSync(this.abs(rel));
  }

  private forgetDirs(rel: string): void {
    const prefix = `${rel}/`;
    this.dirsOk.delete(rel);
    for (const d of this.dirsOk) if (d.startsWith(prefix)) this.dirsOk.delete(d);
  }

  /**
   * Makes every ancestor of rel a real directory. A symlink or non-dir in
   * the way (here or, for overlay, in the parent chain) rejects the entry:
   * following it could write outside the root, and in a per-layer upper the
   * link's target is not even resolvable.
   */
  private ensureParent(rel: string, h: TarHeader): void {
    const parent = parentOf(rel);
    if (this.dirsOk.has(parent)) return;
    const parts = parent.split('/');
    let p = '';
    for (const c of parts) {
      const up = p;
      p = p === '' ? c : `${p}/${c}`;
      if (this.dirsOk.has(p)) continue;
      const st = this.lstat(p);
      if (st?.isDirectory()) {
        this.dirsOk.add(p);
        if (st.mode & 0o2000n) this.setgidDirs.add(p);
        continue;
      }
      if (st?.isSymbolicLink()) throw this.throughSymlink(h, p);
      if (st && !(this.opts.whiteouts === 'overlay' && isWhiteout(st))) {
        throw new InvalidArgumentError(`tar entry "${h.name}": parent "${p}" is not a directory in this layer; the layer was rejected`, { field: h.name });
      }
      this.touch(up);
      if (st) {
        // overlay: this layer whited the dir out and now puts things in it.
        unlinkSync(this.abs(p));
        mkdirSync(this.abs(p), 0o755);
        lsetxattr(this.abs(p), OVERLAY_OPAQUE, OPAQUE_Y);
        lutimens(this.abs(p), h.mtimeNs, h.mtimeNs);
      } else {
        const lowerPath = this.opts.whiteouts === 'overlay' ? this.opts.lower?.(p) ?? null : null;
        const lst = lowerPath ? lstatSync(lowerPath, { bigint: true }) : undefined;
        if (lst?.isSymbolicLink()) throw this.throughSymlink(h, p);
        if (lst && !lst.isDirectory()) {
          throw new InvalidArgumentError(`tar entry "${h.name}": parent "${p}" is not a directory in the parent layers; the layer was rejected`, { field: h.name });
        }
        mkdirSync(this.abs(p), 0o755);
        // Like overlayfs copy-up: a dir this layer only passes through keeps
        // the lower's owner, mode, xattrs and times (and is not "created" by
        // this layer: a later whiteout of it still hides the lower one); a
        // new one gets the entry's mtime so the result does not depend on the clock.
        if (lst && lowerPath) {
          copyMetadata(lowerPath, this.abs(p), lst);
          if (lst.mode & 0o2000n) this.setgidDirs.add(p);
        } else {
          lutimens(this.abs(p), h.mtimeNs, h.mtimeNs);
          this.created.add(p);
        }
        this.dirsOk.add(p);
        continue;
      }
      this.created.add(p);
      this.dirsOk.add(p);
    }
  }

  private throughSymlink(h: TarHeader, p: string): InvalidArgumentError {
    return new InvalidArgumentError(
      `tar entry "${h.name}" would be written through the symlink "${p}"; layers may not write through symlinks, the layer was rejected`,
      { field: h.name },
    );
  }

  private whiteout(rel: string, base: string, h: TarHeader): void {
    const dir = parentOf(rel);
    if (base === WH_OPAQUE) {
      this.ensureParent(rel, h);
      if (this.opts.whiteouts === 'overlay') this.makeOpaque(dir);
      else this.dropLower(dir);
      return;
    }
    if (base.startsWith(`${WH_PREFIX}${WH_PREFIX}`)) return; // aufs metadata (.wh..wh.plnk...): not content
    const name = base.slice(WH_PREFIX.length);
    if (name === '' || name === '.' || name === '..') {
      throw new InvalidArgumentError(`tar entry "${h.name}" is a whiteout for "${name}", which is not a file name`, { field: h.name });
    }
    const target = dir === '' ? name : `${dir}/${name}`;
    this.ensureParent(target, h);
    if (this.created.has(target)) {
      // Whiteouts only hide lower layers; this layer's own entry stays. For
      // a dir that means "nothing from below shows through".
      const st = this.lstat(target);
      if (st?.isDirectory()) {
        if (this.opts.whiteouts === 'overlay') this.makeOpaque(target);
        else this.dropLower(target);
      }
      return;
    }
    this.clearTarget(target, false);
    if (this.opts.whiteouts === 'overlay') {
      this.touch(dir);
      mknod(this.abs(target), S_IF.CHR, 0, 0);
      lutimens(this.abs(target), h.mtimeNs, h.mtimeNs);
    }
  }

  /**
   * overlay mode opaque dir. Whiteouts below it are dropped: nothing from
   * the lower layers shows through an opaque dir anyway, and overlayfs lists
   * a whiteout inside a non-merged dir as a name that then fails lookup.
   */
  private makeOpaque(dirRel: string): void {
    lsetxattr(this.abs(dirRel), OVERLAY_OPAQUE, OPAQUE_Y);
    const sweep = (rel: string) => {
      for (const name of readdirSync(this.abs(rel))) {
        const r = rel === '' ? name : `${rel}/${name}`;
        const st = this.lstat(r);
        if (!st) continue;
        if (isWhiteout(st)) { this.touch(rel); unlinkSync(this.abs(r)); } else if (st.isDirectory()) sweep(r);
      }
    };
    sweep(dirRel);
  }

  /** 'delete' mode opaque dir: remove every child the lower layers put there. */
  private dropLower(dirRel: string): void {
    for (const name of readdirSync(this.abs(dirRel))) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      if (!this.created.has(rel)) {
        this.touch(dirRel);
        rmSync(this.abs(rel), { recursive: true, force: true });
        this.forgetDirs(rel);
      } else if (this.lstat(rel)?.isDirectory()) {
        this.dropLower(rel);
      }
    }
  }

  private hardlink(rel: string, h: TarHeader): void {
    const target = cleanEntryPath(h.linkname, h.name, 'hardlink target');
    if (target === '' || target === rel) {
      throw new InvalidArgumentError(`tar entry "${h.name}" is a hardlink to "${h.linkname}", which cannot be linked`, { field: h.name });
    }
    // The target's parents must be real dirs here too (no linking through a symlink).
    const parts = parentOf(target) === '' ? [] : parentOf(target).split('/');
    let p = '';
    for (const c of parts) {
      p = p === '' ? c : `${p}/${c}`;
      if (this.dirsOk.has(p)) continue;
      const st = this.lstat(p);
      if (st?.isSymbolicLink()) throw new InvalidArgumentError(`tar entry "${h.name}": hardlink target "${h.linkname}" goes through the symlink "${p}"; the layer was rejected`, { field: h.name });
      if (!st?.isDirectory()) break;
    }
    let st = this.lstat(target);
    if (!st && this.opts.whiteouts === 'overlay') {
      // Target lives in a lower layer: copy it up first, as overlayfs would.
      const lowerPath = this.opts.lower?.(target) ?? null;
      const lst = lowerPath ? lstatSync(lowerPath, { bigint: true }) : undefined;
      if (lowerPath && lst?.isFile()) {
        this.ensureParent(target, h);
        copyFileSync(lowerPath, this.abs(target));
        copyMetadata(lowerPath, this.abs(target), lst);
        st = this.lstat(target);
      }
    }
    if (!st) throw new InvalidArgumentError(`tar entry "${h.name}" is a hardlink to "${h.linkname}", which is not in the layer or its parents`, { field: h.name });
    if (st.isDirectory()) throw new InvalidArgumentError(`tar entry "${h.name}" is a hardlink to the directory "${h.linkname}"`, { field: h.name });
    this.clearTarget(rel, false);
    this.touch(parentOf(rel));
    linkSync(this.abs(target), this.abs(rel));
    this.created.add(rel);
  }
}

/**
 * futimens with both times = mtime. Whole seconds (what ustar headers carry)
 * go through Node's futimesSync, exact for integers and cheaper than the
 * koffi call; sub-second times need the ns-exact binding.
 */
function setTimes(fd: number, mtimeNs: bigint): void {
  if (mtimeNs % 1_000_000_000n === 0n) {
    const sec = Number(mtimeNs / 1_000_000_000n);
    futimesSync(fd, sec, sec);
  } else {
    futimens(fd, mtimeNs, mtimeNs);
  }
}

function isAllZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

/** Used by tests and drivers: does `st` describe an overlayfs whiteout? */
export { isWhiteout };
