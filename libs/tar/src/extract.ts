// Extracting a tar stream into a directory of a RootView (docker cp's
// destination side). Every entry's parent is resolved inside the view, and
// the entry itself is created without following a final symlink, so an
// archive cannot write outside the view: not with "../" names (refused), not
// through a symlink it created earlier (resolved within the view), not with a
// hardlink to a path outside (its target is resolved within the view too).
//
// As Docker (archive.Untar with NoOverwriteDirNonDir): a directory is never
// replaced by a non-directory or the reverse; other existing entries are
// replaced. Ownership is the archive's with `chown: null` (cp -a), else the
// given ids. Directory times are set last (adding children changes them).
//
// On failure the entries this extraction created are removed again (newest
// first); files it replaced cannot be brought back, as with Docker.
import { closeSync, constants, fchmodSync, fchownSync, linkSync, lchownSync, lstatSync, mkdirSync, openSync, rmSync, symlinkSync, unlinkSync, writeSync, chmodSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { FailedPreconditionError, fromNodeError, InvalidArgumentError } from '@berth/errors';
import { fsetxattr, futimens, lutimens, mknod, S_IF, UTIME_OMIT } from '@berth/sys';
import { TarReader, type TarHeader, type TarSink } from './reader';
import type { PinnedEntry, RootView } from './root-view';
import { rebaseEntryName } from './copy-rules';

export interface ExtractOptions {
  /** View path of the (existing, resolved) directory to extract into. */
  dstDir: string;
  /** Rename entries whose first component is `from` to `to` (PrepareArchiveCopy). */
  rebase?: { from: string; to: string } | null;
  /** Owner of every entry; null keeps the archive's (cp -a). */
  chown: { uid: number; gid: number } | null;
  /** Refuse replacing a directory with a non-directory and the reverse (Docker's default for cp). */
  noOverwriteDirNonDir: boolean;
  /** Called with each resolved view path before anything is written there; throws to refuse (read-only mounts). */
  assertWritable?: (viewPath: string) => void;
}

export interface ExtractResult {
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
}

/** The view path an archive entry lands at, or an error for names that climb out of dstDir. */
export function entryTarget(dstDir: string, name: string, rebase: { from: string; to: string } | null | undefined): string {
  const raw = rebase ? rebaseEntryName(name, rebase.from, rebase.to) : name;
  const rel = posix.normalize(raw.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (rel === '..' || rel.startsWith('../')) {
    throw new InvalidArgumentError(`archive entry "${name}" points outside the destination directory`, { field: 'archive' });
  }
  return rel === '.' || rel === '' ? dstDir : posix.join(dstDir, rel);
}

class Extractor implements TarSink {
  private fd: number | null = null;
  private current: { header: TarHeader; host: string; pin: PinnedEntry } | null = null;
  /** View paths this extraction created (undone on failure), and directories whose times are set last. */
  private readonly created: string[] = [];
  private readonly dirTimes: Array<{ path: string; mtimeNs: bigint }> = [];
  readonly result: ExtractResult = { entries: 0, bytes: 0 };
  private lastDir: { dir: string; resolved: string } | null = null;

  constructor(private readonly view: RootView, private readonly o: ExtractOptions) {}

  onEntry(h: TarHeader): void {
    const target = entryTarget(this.o.dstDir, h.name, this.o.rebase);
    // The parent is resolved inside the view (symlinks included); the entry itself is not followed.
    // Consecutive entries mostly share a directory: its resolution is reused until an entry that
    // could change it (a symlink, a replaced entry) is written. at() re-resolves in the kernel anyway.
    const dir = posix.dirname(target);
    if (this.lastDir?.dir !== dir) this.lastDir = { dir, resolved: this.view.resolve(dir, true) };
    const parent = this.lastDir.resolved;
    const path = posix.join(parent, posix.basename(target));
    this.o.assertWritable?.(path);
    // The entry's parent pinned by fd (openat2 RESOLVE_IN_ROOT): nothing swapped in since resolve() leads out.
    const pin = this.view.at(path);
    try {
      this.createEntry(h, target, path, pin);
    } catch (e) {
      pin.close();
      throw e;
    }
    this.result.entries++;
  }

  private createEntry(h: TarHeader, target: string, path: string, pin: PinnedEntry): void {
    const host = pin.path;
    let existing: Stats | null = null;
    try {
      existing = lstatSync(host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new FailedPreconditionError(`cannot extract ${h.name}: a parent of ${path} is not a directory`, { field: 'archive' });
      if (code !== 'ENOENT') throw fromNodeError(e, `stat ${path}`);
    }
    if (target === this.o.dstDir && h.type !== 'dir') {
      throw new InvalidArgumentError(`archive entry "${h.name}" would replace the destination directory ${this.o.dstDir} itself`, { field: 'archive' });
    }
    if (existing) {
      if (this.o.noOverwriteDirNonDir && existing.isDirectory() && h.type !== 'dir') {
        throw new FailedPreconditionError(`cannot overwrite directory ${path} with non-directory ${h.name}`, { field: 'archive' });
      }
      if (this.o.noOverwriteDirNonDir && !existing.isDirectory() && h.type === 'dir') {
        throw new FailedPreconditionError(`cannot overwrite non-directory ${path} with directory ${h.name}`, { field: 'archive' });
      }
      if (!(existing.isDirectory() && h.type === 'dir')) {
        this.lastDir = null;
        try {
          if (existing.isDirectory()) rmSync(host, { recursive: true });
          else unlinkSync(host);
        } catch (e) {
          throw fromNodeError(e, `replace ${path}`);
        }
        existing = null;
      }
    }
    const mode = h.mode & 0o7777;
    try {
      switch (h.type) {
        case 'dir':
          if (!existing) { mkdirSync(host, 0o700); this.created.push(path); }
          this.dirTimes.push({ path, mtimeNs: h.mtimeNs });
          break;
        case 'file':
          this.fd = openSync(host, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
          this.created.push(path);
          break;
        case 'symlink':
          this.lastDir = null;
          symlinkSync(h.linkname, host);
          this.created.push(path);
          break;
        case 'hardlink': {
          const t = entryTarget(this.o.dstDir, h.linkname, this.o.rebase);
          const tp = posix.join(this.view.resolve(posix.dirname(t), true), posix.basename(t));
          const tpin = this.view.at(tp);
          try { linkSync(tpin.path, host); } finally { tpin.close(); }
          this.created.push(path);
          break;
        }
        case 'char': case 'block': case 'fifo': {
          const kind = h.type === 'char' ? S_IF.CHR : h.type === 'block' ? S_IF.BLK : S_IF.FIFO;
          mknod(host, kind | mode, h.devMajor, h.devMinor);
          this.created.push(path);
          break;
        }
      }
    } catch (e) {
      throw fromNodeError(e, `create ${path} (archive entry ${h.name})`);
    }
    this.current = { header: h, host, pin };
  }

  onData(chunk: Buffer, offset: number): void {
    if (this.fd === null) return;
    let done = 0;
    while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done, offset + done);
    this.result.bytes += chunk.length;
  }

  onEntryEnd(): void {
    const c = this.current;
    this.current = null;
    const fd = this.fd;
    this.fd = null;
    if (!c) { if (fd !== null) closeSync(fd); return; }
    const h = c.header;
    const uid = this.o.chown ? this.o.chown.uid : h.uid;
    const gid = this.o.chown ? this.o.chown.gid : h.gid;
    try {
      if (fd !== null) {
        // A file: through its own fd, so nothing is looked up by name again.
        fchownSync(fd, uid, gid);
        fchmodSync(fd, h.mode & 0o7777); // after chown: chown clears setuid/setgid
        // File capabilities last: chown clears them too. Docker restores only this one.
        const cap = h.xattrs.get('security.capability');
        if (cap) fsetxattr(fd, 'security.capability', cap);
        futimens(fd, UTIME_OMIT, h.mtimeNs);
      } else if (h.type !== 'hardlink') { // a hardlink shares its target's inode: nothing of its own to set
        lchownSync(c.host, uid, gid);
        if (h.type !== 'symlink') chmodSync(c.host, h.mode & 0o7777);
        if (h.type !== 'dir') lutimens(c.host, UTIME_OMIT, h.mtimeNs);
      }
    } catch (e) {
      throw fromNodeError(e, `set owner, mode and times of ${h.name}`);
    } finally {
      if (fd !== null) closeSync(fd);
      c.pin.close();
    }
  }

  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const d = this.dirTimes[i]!;
      const pin = this.view.at(d.path);
      try { lutimens(pin.path, UTIME_OMIT, d.mtimeNs); } finally { pin.close(); }
    }
  }

  abort(): void {
    if (this.fd !== null) { try { closeSync(this.fd); } catch { /* already closed */ } this.fd = null; }
    this.current?.pin.close();
    this.current = null;
    for (let i = this.created.length - 1; i >= 0; i--) {
      try {
        const pin = this.view.at(this.created[i]!);
        try { rmSync(pin.path, { recursive: true, force: true }); } finally { pin.close(); }
      } catch { /* its parent went first, or best effort: the original error is what is reported */ }
    }
  }
}

/**
 * Extracts the tar in `chunks` into `o.dstDir` of `view`. The destination
 * directory must exist (the caller resolved it). Throws typed errors naming
 * the entry; on failure what this call created is removed.
 */
export async function extractTar(view: RootView, chunks: AsyncIterable<Buffer>, o: ExtractOptions): Promise<ExtractResult> {
  const x = new Extractor(view, o);
  const reader = new TarReader(x);
  try {
    for await (const chunk of chunks) {
      if (!reader.ended) reader.push(chunk);
    }
    reader.end();
    x.finish();
  } catch (e) {
    x.abort();
    throw e;
  }
  return x.result;
}
