// docker cp's path rules, shared by the engine (its side of CopyFrom/CopyTo)
// and the CLI (its side: the local source or destination). They follow moby's
// pkg/archive/copy.go so a user's muscle memory carries over:
//
//  - a path ending in "/" asserts a directory; "dir/." means "the contents of
//    dir" (its archive entries are named "./...", then rebased);
//  - the source archive's entries are named from the source's base name;
//  - PrepareArchiveCopy: into an existing directory the archive extracts as
//    is; otherwise it extracts into the destination's parent with the top
//    entry renamed to the destination's base name;
//  - a directory cannot replace a file, a file source cannot create "x/".
import { posix } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '@berth/errors';

/** What one side knows about a copy path (moby's archive.CopyInfo). */
export interface CopyInfo {
  /** The path as the user gave it (trailing "/" or "/." kept). */
  path: string;
  exists: boolean;
  isDir: boolean;
  /** When the archive's top entry must be renamed (a followed symlink, "link/"), its new name. */
  rebaseName: string;
}

export const hasTrailingSeparator = (p: string): boolean => p.length > 1 && p.endsWith('/');
/** "dir/." or "." */
export const specifiesCurrentDir = (p: string): boolean => posix.basename(p) === '.' || p === '.';
/** A path asserts a directory when it ends with "/" or "/.". */
export const assertsDirectory = (p: string): boolean => hasTrailingSeparator(p) || specifiesCurrentDir(p);

/** Cleans `cleaned` but keeps the "/" or "/." that `original` ended with (moby PreserveTrailingDotOrSeparator). */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  if (!specifiesCurrentDir(cleaned) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(cleaned)) cleaned += '/';
    cleaned += '.';
  }
  if (!hasTrailingSeparator(cleaned) && hasTrailingSeparator(original)) cleaned += '/';
  return cleaned;
}

/** Directory and base of a path, "dir/." giving ("dir", ".") (moby SplitPathDirEntry). */
export function splitPathDirEntry(p: string): { dir: string; base: string } {
  let cleaned = posix.normalize(p);
  if (cleaned.length > 1 && cleaned.endsWith('/')) cleaned = cleaned.slice(0, -1);
  if (specifiesCurrentDir(p) && cleaned !== '.') cleaned += '/.';
  // Go's filepath.Base("/") is "/" (Node's basename gives "").
  return { dir: posix.dirname(cleaned), base: posix.basename(cleaned) || '/' };
}

/** The absolute in-container path for a user path: "/" joined, trailing "/" or "/." kept. */
export function containerAbsPath(p: string): string {
  return preserveTrailingDotOrSeparator(posix.join('/', p), p);
}

/**
 * For a symlink source followed with -L: the path to archive instead and the
 * name its entries must get (moby GetRebaseName): copying "link" that points
 * at "/data/real" makes entries named "link".
 */
export function rebaseForLink(path: string, resolved: string): { path: string; rebaseName: string } {
  let r = resolved;
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(r)) r += '/.';
  if (hasTrailingSeparator(path) && !hasTrailingSeparator(r)) r += '/';
  const a = splitPathDirEntry(path).base;
  const b = splitPathDirEntry(r).base;
  return { path: r, rebaseName: a !== b ? a : '' };
}

/** Renames an archive entry whose first component is `from` to start with `to` (moby RebaseArchiveEntries). */
export function rebaseEntryName(name: string, from: string, to: string): string {
  if (from === to) return name;
  let n = name;
  while (n.startsWith('/')) n = n.slice(1);
  if (n === from || n === `${from}/`) return to + n.slice(from.length);
  if (n.startsWith(`${from}/`)) return to + n.slice(from.length);
  return name;
}

/** Where an archive goes and how its entries are renamed: moby PrepareArchiveCopy as a decision. */
export interface ArchiveCopyPlan {
  /** The directory to extract into. */
  dstDir: string;
  /** Rename entries starting with `from` to `to`; null: extract as is. */
  rebase: { from: string; to: string } | null;
}

/**
 * Decides how the archive of `src` lands at `dst`. Errors as Docker's:
 * a directory onto an existing file, a file onto "missing/" (asserted dir).
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): ArchiveCopyPlan {
  const d = splitPathDirEntry(dst.path);
  let srcBase = splitPathDirEntry(src.path).base;
  if (src.rebaseName) srcBase = src.rebaseName;
  if (dst.exists && dst.isDir) return { dstDir: dst.path, rebase: null };
  if (dst.exists && src.isDir) {
    throw new FailedPreconditionError(`cannot copy a directory to the existing file ${dst.path}: remove the file or copy into a directory`, { field: 'dest' });
  }
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) {
    throw new InvalidArgumentError(`no such directory ${dst.path}: a file cannot create a directory; create it first or drop the trailing "/"`, { field: 'dest' });
  }
  return { dstDir: d.dir, rebase: { from: srcBase, to: d.base } };
}
