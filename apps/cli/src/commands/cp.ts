// berth cp: docker cp over the engine's CopyFrom / CopyTo / StatPath.
//
//   berth cp [-aL] CONTAINER:SRC_PATH DEST_PATH|-
//   berth cp [-aL] SRC_PATH|- CONTAINER:DEST_PATH
//
// The CLI's half of Docker's rules (moby cli/command/container/cp.go): the
// local side is stat'ed here, the container side through StatPath, and
// @berth/tar's prepareArchiveCopy decides where the archive lands and what
// its top entry is called, so the engine only ever extracts into an existing
// directory. "-" streams a tar on stdin/stdout as is. The progress line
// ("Successfully copied 2.05kB to c1:/tmp") goes to stderr on a terminal only.
import { lstatSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { once } from 'node:events';
import { dirname, posix, resolve as resolveLocal } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, isNotFound, NotFoundError, fromNodeError } from '@berth/errors';
import { humanSize, parseCopyArgs } from '@berth/cli-kit';
import type { engineV1 } from '@berth/proto';
import {
  RootView, extractTar, packTree, prepareArchiveCopy, rebaseForLink, splitPathDirEntry, hasTrailingSeparator, specifiesCurrentDir,
  preserveTrailingDotOrSeparator, type CopyInfo,
} from '@berth/tar';
import type { Ctx } from '../context';

const S_IFMT = 0o170000;
const isDir = (mode: number): boolean => (mode & S_IFMT) === 0o040000;
const isLink = (mode: number): boolean => (mode & S_IFMT) === 0o120000;
const isRegular = (mode: number): boolean => (mode & S_IFMT) === 0o100000;

export async function cp(ctx: Ctx): Promise<number> {
  const [src, dst] = ctx.p.args as [string, string];
  const a = parseCopyArgs(src, dst);
  if (a.localPath === '') throw new InvalidArgumentError(`${a.direction === 'from' ? 'destination' : 'source'} can not be empty`, { field: 'args' });
  const progress = !ctx.bool('quiet') && a.localPath !== '-' && ctx.io.stderr.isTTY === true;
  const copied = a.direction === 'from'
    ? await copyFromContainer(ctx, a.container, a.containerPath, a.localPath, ctx.bool('follow-link'))
    : await copyToContainer(ctx, a.container, a.containerPath, a.localPath, ctx.bool('follow-link'), ctx.bool('archive'));
  if (progress) ctx.err(`Successfully copied ${humanSize(copied)} to ${a.direction === 'from' ? a.localPath : `${a.container}:${a.containerPath}`}\n`);
  return 0;
}

/** The container path's stat, or null when it does not exist. */
async function statIn(ctx: Ctx, container: string, path: string): Promise<engineV1.PathStat__Output | null> {
  try {
    return await ctx.engine().StatPath({ id: container, path });
  } catch (e) {
    // "No such container" is NotFound too, but names the container: keep it.
    if (isNotFound(e) && /Could not find the file/.test((e as Error).message)) return null;
    throw e;
  }
}

async function copyFromContainer(ctx: Ctx, container: string, srcPath: string, dstPath: string, follow: boolean): Promise<number> {
  const engine = ctx.engine();
  let path = srcPath;
  let rebaseName = '';
  // The local destination is checked before the copy starts, as Docker does.
  const dstInfo = dstPath === '-' ? null : localDestination(dstPath);
  if (follow) {
    // -L: copy what the link points at, named as the link (moby GetRebaseName).
    const st = await statIn(ctx, container, srcPath);
    if (st && isLink(st.mode)) ({ path, rebaseName } = rebaseForLink(srcPath, st.linkTarget));
  }
  const call = engine.CopyFrom({ id: container, path }) as AsyncIterable<engineV1.CopyFromResponse__Output> & { cancel(): void };
  const it = call[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done || !first.value.stat) throw new FailedPreconditionError('the engine ended the copy without the path stat', { field: 'source' });
  const stat = first.value.stat;
  let bytes = 0;
  const data = (async function* () {
    for (;;) {
      const m = await it.next();
      if (m.done) return;
      if (m.value.data) { bytes += m.value.data.length; yield m.value.data; }
    }
  })();
  if (dstInfo === null) {
    // A reader that goes away (`| head`) ends the copy quietly, as a pipe does.
    let closed = false;
    const onError = (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') closed = true; };
    ctx.io.stdout.on('error', onError);
    try {
      for await (const chunk of data) {
        if (closed) break;
        if (!ctx.io.stdout.write(chunk)) await once(ctx.io.stdout, 'drain').catch(() => undefined); // an error rejects it: `closed` tells
      }
    } catch (e) {
      if (!closed) throw e;
    } finally {
      if (closed) call.cancel();
    }
    return bytes;
  }
  const srcInfo: CopyInfo = { path, exists: true, isDir: isDir(stat.mode), rebaseName };
  const plan = prepareArchiveCopy(srcInfo, dstInfo);
  // The archive's top entry is stat.name; it lands as the plan's name, else as -L's link name, else unchanged.
  const to = plan.rebase?.to ?? (rebaseName || stat.name);
  try {
    await extractTar(new RootView(realLocalDir(plan.dstDir)), data, {
      dstDir: '/', rebase: to === stat.name ? null : { from: stat.name, to },
      // Local files belong to whoever runs berth (Docker: NoLchown).
      chown: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }, noOverwriteDirNonDir: true,
    });
  } catch (e) {
    call.cancel();
    throw e;
  }
  return bytes;
}

/** moby CopyInfoDestinationPath: follows a final symlink; a missing path needs an existing parent. */
function localDestination(p: string): CopyInfo {
  let path = p;
  for (let hops = 0; ; hops++) {
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fromNodeError(e, `destination ${p}`);
      const parent = dirname(resolveLocal(path));
      let ps: Stats;
      try { ps = statSync(parent); } catch { throw new NotFoundError(`destination directory ${parent} does not exist: create it first`, { field: 'dest' }); }
      if (!ps.isDirectory()) throw new FailedPreconditionError(`destination ${parent} is not a directory`, { field: 'dest' });
      return { path, exists: false, isDir: false, rebaseName: '' };
    }
    if (!st.isSymbolicLink()) return { path, exists: true, isDir: st.isDirectory(), rebaseName: '' };
    if (hops >= 40) throw new InvalidArgumentError(`too many levels of symbolic links at ${p}`, { field: 'dest' });
    const target = readlinkSync(path);
    path = posix.isAbsolute(target) ? target : posix.join(dirname(path), target);
  }
}

function realLocalDir(p: string): string {
  try {
    return realpathSync(p);
  } catch (e) {
    throw fromNodeError(e, `destination directory ${p}`);
  }
}

/** moby ResolveHostSourcePath + CopyInfoSourcePath for a local source. */
function localSource(p: string, follow: boolean): { info: CopyInfo; resolved: string; st: Stats } {
  const abs = preserveTrailingDotOrSeparator(resolveLocal(p), p);
  let resolved: string;
  let rebaseName = '';
  try {
    if (follow || hasTrailingSeparator(abs) || specifiesCurrentDir(abs)) {
      // -L, "link/" and "dir/." name the directory itself: resolve every component; entries keep the name asked for.
      resolved = realpathSync(abs);
      rebaseName = rebaseForLink(abs, resolved).rebaseName;
    } else {
      const { dir, base } = splitPathDirEntry(abs);
      resolved = posix.join(realpathSync(dir), base);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no such file or directory: ${p}`, { field: 'source' });
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new FailedPreconditionError(`not a directory: ${p}`, { field: 'source' });
    throw fromNodeError(e, `source ${p}`);
  }
  let st: Stats;
  try {
    // "dir/." and "link/" are the directory itself.
    st = specifiesCurrentDir(abs) || hasTrailingSeparator(abs) ? statSync(resolved) : lstatSync(resolved);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no such file or directory: ${p}`, { field: 'source' });
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new FailedPreconditionError(`not a directory: ${p}`, { field: 'source' });
    throw fromNodeError(e, `source ${p}`);
  }
  // Node's realpath drops a trailing "/" on a file where the kernel says ENOTDIR: say it ourselves.
  if ((specifiesCurrentDir(abs) || hasTrailingSeparator(abs)) && !st.isDirectory()) throw new FailedPreconditionError(`not a directory: ${p}`, { field: 'source' });
  return { info: { path: abs, exists: true, isDir: st.isDirectory(), rebaseName }, resolved, st };
}

async function copyToContainer(ctx: Ctx, container: string, dstPath: string, srcPath: string, follow: boolean, archive: boolean): Promise<number> {
  const engine = ctx.engine();
  // The local source first: a typo there is told without asking the engine anything.
  const src = srcPath === '-' ? null : localSource(srcPath, follow);
  // The container side: follow a final symlink once, as Docker does.
  let dstInfo: CopyInfo = { path: dstPath, exists: false, isDir: false, rebaseName: '' };
  let st = await statIn(ctx, container, dstPath);
  if (st && isLink(st.mode)) {
    dstInfo = { ...dstInfo, path: st.linkTarget };
    st = await statIn(ctx, container, st.linkTarget);
  }
  if (st) {
    if (!isDir(st.mode) && !isRegular(st.mode)) {
      throw new FailedPreconditionError(`destination "${container}:${dstPath}" must be a directory or a regular file`, { field: 'dest' });
    }
    dstInfo = { ...dstInfo, exists: true, isDir: isDir(st.mode) };
  }
  let dstDir: string;
  let tar: AsyncIterable<Buffer>;
  if (src === null) {
    if (!dstInfo.isDir) throw new FailedPreconditionError(`destination "${container}:${dstPath}" must be a directory`, { field: 'dest' });
    dstDir = dstInfo.path;
    tar = ctx.io.stdin as AsyncIterable<Buffer>;
  } else {
    const plan = prepareArchiveCopy(src.info, dstInfo);
    dstDir = plan.dstDir;
    const name = plan.rebase?.to ?? (src.info.rebaseName || splitPathDirEntry(src.info.path).base);
    const view = new RootView('/');
    tar = packTree(view, src.resolved, name);
  }
  const { stream, response } = engine.CopyTo({ timeoutMs: 24 * 3600_000 });
  response.catch(() => undefined);
  stream.write({ start: { id: container, path: dstDir, copyUidGid: archive, allowOverwriteDirWithFile: false } });
  let bytes = 0;
  try {
    for await (const chunk of tar) {
      bytes += chunk.length;
      if (!stream.write({ data: chunk })) await Promise.race([once(stream, 'drain'), response]);
    }
  } catch (e) {
    stream.cancel();
    await response.catch(() => undefined);
    throw e;
  }
  stream.end();
  await response;
  return bytes;
}
