// COPY and ADD: which files of the source (the build context, or another
// stage's or image's root with --from) land where in the step's container,
// as Docker's builder decides it, and the tar streams that put them there.
//
// Rules (moby builder/dockerfile copy.go, BuildKit's FileOp copy):
//  - sources are relative to the source root; "../" may not leave the build
//    context; globs match whole paths (filepath.Match), ignored files
//    (.dockerignore) are invisible; a source's own symlink is followed, links
//    inside a copied directory are copied as links.
//  - a directory source copies its contents; a file lands at dest, or in dest
//    when dest ends in "/" or is an existing directory; several sources need
//    a dest ending in "/". A relative dest is taken from WORKDIR.
//  - new entries are 0:0, or --chown's user (names from the target's
//    /etc/passwd and /etc/group); --chmod replaces the mode of what is copied.
//    Missing parent directories are created 0755 (owned as the copy).
//  - ADD of a local tar archive (plain, gzip, or xz/bzip2/zstd when named
//    so) extracts it into dest, keeping its owners.
// The cache key of the step includes contentDigest: names, types, modes,
// link targets and file contents, not times, so an unchanged file keeps the
// cache as in Docker.
import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, readSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { spawn } from 'node:child_process';
import { constants as zlibConstants, createGunzip, gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, fromNodeError } from '@berth/errors';
import { END_OF_ARCHIVE, encodeHeader, padding, type RootView, type TarEntryType } from '@berth/tar';
import { hasGlob, isIgnored, matchPath, type IgnoreRule } from './patterns';

/** What the copy needs to know about the step's root before it writes. */
export interface TargetRoot {
  /** "dir", "other" or null (missing) for an absolute path, symlinks followed inside the root. */
  kind(path: string): 'dir' | 'other' | null;
  /** uid/gid for a --chown spec ("user", "uid:gid", "user:group"). */
  lookupOwner(spec: string): { uid: number; gid: number };
}

export interface CopyRequest {
  kind: 'COPY' | 'ADD';
  sources: string[];
  dest: string;
  workdir: string;
  chown: string;
  chmod: string;
  /** The source tree, and whether it is the build context (relative-only paths, .dockerignore). */
  source: RootView;
  isContext: boolean;
  ignore: IgnoreRule[];
}

interface Item {
  /** Resolved view path in the source. */
  src: string;
  /** Absolute destination path in the target. */
  dest: string;
  st: Stats;
  /** A source as named in the instruction (not an entry found under a copied directory). */
  top: boolean;
  /** ADD of an archive: extract it into `dest` (a directory) rather than copy. */
  extract?: ArchiveKind;
}

export interface CopyPlan {
  items: Item[];
  /** sha256 over what is copied (names, types, modes, links, contents), for the cache key. */
  contentDigest: string;
}

const fail = (ins: string, why: string): never => { throw new InvalidArgumentError(`${ins} failed: ${why}`, { field: 'dockerfile' }); };

/** Context-relative form of a source ("./a/../b" -> "b"); refuses climbing out of the context. */
function cleanSource(ins: string, s: string, isContext: boolean): string {
  const n = posix.normalize(s.replace(/^\/+/, '') || '.');
  if (isContext && (n === '..' || n.startsWith('../'))) fail(ins, `forbidden path outside the build context: ${s}`);
  return n.replace(/^(\.\.\/)+/, '').replace(/^\.\.$/, '.');
}

/** Every path of the source tree (relative, sorted), ignored ones left out. */
function walk(view: RootView, ignore: IgnoreRule[]): string[] {
  const out: string[] = [];
  const visit = (dir: string, rel: string): void => {
    let names: string[];
    try { names = readdirSync(view.host(dir)).sort(); } catch { return; }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const ignored = isIgnored(ignore, r);
      let st: Stats;
      try { st = view.lstat(p); } catch { continue; }
      if (!ignored) out.push(r);
      if (st.isDirectory()) visit(p, r);
    }
  };
  visit('/', '');
  return out;
}

type ArchiveKind = 'tar' | 'gzip' | 'xz' | 'bzip2' | 'zstd';

/** Decompressors run as programs (Node's zlib has gzip only): the tool and its magic bytes. */
const TOOLS: Record<'xz' | 'bzip2' | 'zstd', { magic: number[]; names: RegExp }> = {
  xz: { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], names: /\.(tar\.xz|txz)$/i },
  bzip2: { magic: [0x42, 0x5a, 0x68], names: /\.(tar\.bz2|tbz2?)$/i },
  zstd: { magic: [0x28, 0xb5, 0x2f, 0xfd], names: /\.(tar\.zst|tzst)$/i },
};

const isTar = (b: Buffer): boolean => b.length >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';

/**
 * Whether ADD extracts this file, and how: a tar, or a gzip whose content is
 * a tar (checked on its first 64 KiB, as Docker sniffs it), or an xz, bzip2
 * or zstd file named as a compressed tar. Anything else is copied as is.
 */
function archiveKind(view: RootView, p: string, st: Stats): ArchiveKind | undefined {
  if (!st.isFile() || st.size < 4) return undefined;
  const head = readHead(view, p, 64 * 1024);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    try {
      return isTar(gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH })) ? 'gzip' : undefined;
    } catch {
      return undefined;
    }
  }
  for (const [tool, t] of Object.entries(TOOLS) as ['xz' | 'bzip2' | 'zstd', (typeof TOOLS)['xz']][]) {
    if (t.magic.every((b, i) => head[i] === b) && t.names.test(p)) return tool;
  }
  return isTar(head) ? 'tar' : undefined;
}

/** `raw` through `tool -d -c`; a failure of the tool fails the stream (the extraction then stops and undoes itself). */
function decompressed(tool: 'xz' | 'bzip2' | 'zstd', raw: Readable, name: string): Readable {
  const child = spawn(tool, ['-d', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { if (stderr.length < 4096) stderr += d.toString(); });
  raw.on('error', (e) => child.stdout.destroy(e));
  raw.pipe(child.stdin).on('error', () => undefined); // EPIPE when the tool quits early: its exit says why
  child.on('error', (e) => child.stdout.destroy(new FailedPreconditionError(`ADD ${name}: ${tool} is needed to extract it: ${e.message}`, { field: 'dockerfile', cause: e })));
  child.on('close', (code) => {
    if (code !== 0) child.stdout.destroy(new InvalidArgumentError(`ADD ${name}: ${tool} could not decompress it (exit ${code}): ${stderr.trim()}`, { field: 'dockerfile' }));
  });
  return child.stdout;
}

function readHead(view: RootView, p: string, n: number): Buffer {
  const pin = view.at(p);
  try {
    const fd = openSync(pin.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const b = Buffer.alloc(n);
      const got = readSync(fd, b, 0, n, 0);
      return b.subarray(0, got);
    } finally { closeSync(fd); }
  } finally { pin.close(); }
}

/** Where each source lands; throws Docker's errors for missing sources and bad destinations. */
/** `target` null: only the content digest is wanted (a cache lookup), destinations are not final. */
export function planCopy(req: CopyRequest, target: TargetRoot | null): CopyPlan {
  const ins = req.kind;
  const view = req.source;
  let all: string[] | null = null;
  const matched: { rel: string; resolved: string; st: Stats }[] = [];
  for (const raw of req.sources) {
    const clean = cleanSource(ins, raw, req.isContext);
    if (/^[a-z]+:\/\//i.test(raw)) fail(ins, `${raw}: ADD from a URL is not supported by berth build; download it in a RUN step or into the context`);
    if (hasGlob(clean)) {
      all ??= walk(view, req.isContext ? req.ignore : []);
      const hits = all.filter((r) => matchPath(clean, r));
      for (const r of hits) {
        const resolved = view.resolve(`/${r}`, true);
        matched.push({ rel: r, resolved, st: statIn(view, resolved, raw, ins) });
      }
      continue;
    }
    if (req.isContext && clean !== '.' && isIgnored(req.ignore, clean)) {
      fail(ins, `file not found in build context or excluded by .dockerignore: stat ${clean}: file does not exist`);
    }
    const resolved = view.resolve(`/${clean}`, true);
    matched.push({ rel: clean, resolved, st: statIn(view, resolved, raw, ins) });
  }
  if (matched.length === 0) fail(ins, 'no source files were specified');
  const destAbs = posix.resolve(req.workdir || '/', req.dest);
  const destIsDir = req.dest.endsWith('/') || req.dest.endsWith('/.') || req.dest === '.';
  if (matched.length > 1 && !destIsDir) {
    fail(ins, `When using ${ins} with more than one source file, the destination must be a directory and end with a /`);
  }
  const items: Item[] = [];
  for (const m of matched) {
    if (m.st.isDirectory()) {
      items.push({ src: m.resolved, dest: destAbs, st: m.st, top: true });
      const skipIgnored = req.isContext && req.ignore.length > 0;
      for (const child of walkUnder(view, m.resolved)) {
        const rel = child.slice(m.resolved === '/' ? 1 : m.resolved.length + 1);
        const ctxRel = m.rel === '.' ? rel : `${m.rel}/${rel}`;
        if (skipIgnored && isIgnored(req.ignore, ctxRel)) continue;
        items.push({ src: child, dest: posix.join(destAbs, rel), st: view.lstat(child), top: false });
      }
      continue;
    }
    const ext = ins === 'ADD' ? archiveKind(view, m.resolved, m.st) : undefined;
    if (ext) {
      items.push({ src: m.resolved, dest: destAbs, st: m.st, top: true, extract: ext });
      continue;
    }
    const into = destIsDir || target?.kind(destAbs) === 'dir';
    items.push({ src: m.resolved, dest: into ? posix.join(destAbs, posix.basename(m.rel === '.' ? m.resolved : m.rel)) : destAbs, st: m.st, top: true });
  }
  return { items, contentDigest: digestItems(view, items, req) };
}

function statIn(view: RootView, resolved: string, raw: string, ins: string): Stats {
  try {
    return view.lstat(resolved);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return fail(ins, `file not found in build context or excluded by .dockerignore: stat ${raw}: file does not exist`);
    }
    throw fromNodeError(e, `stat ${raw}`);
  }
}

/** Every path under directory `dir` (resolved view paths), parents before children, sorted. */
function walkUnder(view: RootView, dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    for (const name of readdirSync(view.host(d)).sort()) {
      const p = d === '/' ? `/${name}` : `${d}/${name}`;
      out.push(p);
      if (view.lstat(p).isDirectory()) visit(p);
    }
  };
  visit(dir);
  return out;
}

function typeOf(st: Stats): TarEntryType | null {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return null; // devices, fifos and sockets are not copied from a build context
}

function digestItems(view: RootView, items: Item[], req: CopyRequest): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([req.kind, req.chown, req.chmod]));
  for (const it of items) {
    const type = typeOf(it.st);
    if (!type) continue;
    h.update(`\0${it.src}\0${type}\0${it.st.mode & 0o7777}\0${it.extract ?? ''}\0`);
    if (type === 'symlink') h.update(readLink(view, it.src));
    if (type === 'file') for (const chunk of readChunks(view, it.src)) h.update(chunk);
  }
  return `sha256:${h.digest('hex')}`;
}

function readLink(view: RootView, p: string): string {
  const pin = view.at(p);
  try { return readlinkSync(pin.path); } finally { pin.close(); }
}

const CHUNK = 1 << 20;

/** A regular file's content in chunks, opened without following a last symlink. */
function* readChunks(view: RootView, p: string): Generator<Buffer> {
  const pin = view.at(p);
  let fd: number;
  try {
    fd = openSync(pin.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    pin.close();
    throw fromNodeError(e, `open ${p}`);
  }
  try {
    for (;;) {
      const b = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, b, 0, CHUNK, null);
      if (n === 0) return;
      yield b.subarray(0, n);
    }
  } finally {
    closeSync(fd);
    pin.close();
  }
}

/** One tar stream and where it is extracted; `keepOwners` keeps the archive's uid/gid. */
export interface TarPart {
  dstDir: string;
  keepOwners: boolean;
  tar: () => AsyncIterable<Buffer>;
}

/**
 * The tar streams that carry out `plan` on `target`: first one rooted at "/"
 * with the missing parent directories and every copied entry (owners set
 * here), then one per ADD archive extracted into its directory.
 */
export function copyParts(plan: CopyPlan, req: CopyRequest, target: TargetRoot): TarPart[] {
  const owner = req.chown ? target.lookupOwner(req.chown) : { uid: 0, gid: 0 };
  let chmod: number | null = null;
  if (req.chmod) {
    if (!/^[0-7]{3,4}$/.test(req.chmod)) fail(req.kind, `invalid chmod parameter: ${req.chmod}: use an octal mode such as 755`);
    chmod = parseInt(req.chmod, 8);
  }
  // Parent directories missing in the target are made as the copy goes, parents first, each once
  // (also those of a file .dockerignore re-includes under an excluded directory).
  const made = new Set<string>();
  const missingParents = (dir: string): string[] => {
    const out: string[] = [];
    for (let d = dir; d !== '/' && !made.has(d); d = posix.dirname(d)) {
      if (target.kind(d) !== null) break;
      out.unshift(d);
    }
    return out;
  };
  const view = req.source;
  const main: TarPart = {
    dstDir: '/', keepOwners: true,
    tar: async function* () {
      const ensure = function* (dir: string): Generator<Buffer> {
        for (const d of missingParents(dir)) {
          made.add(d);
          yield encodeHeader({ name: d.slice(1), type: 'dir', mode: 0o755, uid: owner.uid, gid: owner.gid, size: 0, mtimeNs: BigInt(Date.now()) * 1_000_000n });
        }
      };
      for (const it of plan.items) {
        if (it.extract) { yield* ensure(it.dest); continue; }
        const type = typeOf(it.st);
        if (!type) continue;
        // A directory source's contents are copied, not the directory: the destination keeps (or gets) its own mode.
        if (type === 'dir' && it.top) { yield* ensure(it.dest); continue; }
        yield* ensure(posix.dirname(it.dest));
        if (type === 'dir') made.add(it.dest);
        const mode = chmod ?? (it.st.mode & 0o7777);
        const base = { name: it.dest.slice(1), mode, uid: owner.uid, gid: owner.gid, mtimeNs: BigInt(Math.round(it.st.mtimeMs * 1e6)) };
        if (type === 'symlink') { yield encodeHeader({ ...base, type, size: 0, linkname: readLink(view, it.src) }); continue; }
        if (type === 'dir') { yield encodeHeader({ ...base, type, size: 0 }); continue; }
        let size = 0;
        const chunks: Buffer[] = [];
        // Read before the header so the size is what is written (a file changed since the plan is taken as it is now).
        for (const c of readChunks(view, it.src)) { chunks.push(c); size += c.length; }
        yield encodeHeader({ ...base, type, size });
        for (const c of chunks) yield c;
        const pad = padding(size);
        if (pad) yield Buffer.alloc(pad);
      }
      yield END_OF_ARCHIVE;
    },
  };
  const parts: TarPart[] = [main];
  for (const it of plan.items) {
    if (!it.extract) continue;
    const kind = it.extract;
    parts.push({
      dstDir: it.dest, keepOwners: true,
      tar: () => {
        const raw = Readable.from(readChunks(view, it.src));
        if (kind === 'gzip') return raw.pipe(createGunzip());
        return kind === 'tar' ? raw : decompressed(kind, raw, it.src);
      },
    });
  }
  return parts;
}

/**
 * WORKDIR's directory where `target` lacks it: one part rooted at "/" making
 * each missing level (0755, owned by the stage's USER as BuildKit makes it,
 * root without one); no part at all when the directory exists, so the step
 * commits no layer. A level that exists and is not a directory fails the
 * step, as mkdir does in Docker's builders.
 */
export function workdirParts(dir: string, user: string, target: TargetRoot): TarPart[] {
  const missing: string[] = [];
  for (let d = dir; d !== '/'; d = posix.dirname(d)) {
    const kind = target.kind(d);
    if (kind === 'dir') break;
    if (kind === 'other') fail('WORKDIR', `mkdir ${d}: not a directory`);
    missing.unshift(d);
  }
  if (!missing.length) return [];
  const owner = user ? target.lookupOwner(user) : { uid: 0, gid: 0 };
  return [{
    dstDir: '/', keepOwners: true,
    tar: async function* () {
      const mtimeNs = BigInt(Date.now()) * 1_000_000n;
      for (const d of missing) yield encodeHeader({ name: d.slice(1), type: 'dir', mode: 0o755, uid: owner.uid, gid: owner.gid, size: 0, mtimeNs });
      yield END_OF_ARCHIVE;
    },
  }];
}

/** A missing --from source or COPY source that the context does not hold. */
export function notInContext(what: string): NotFoundError {
  return new NotFoundError(`${what} not found in build context`, { field: 'dockerfile' });
}
