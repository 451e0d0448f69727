// A directory tree seen from inside, as a container sees its root: paths are
// absolute in the view ("/etc/passwd"), and symlinks are resolved against the
// view's "/" (openat2 RESOLVE_IN_ROOT semantics: "..", absolute links and
// links made of ".." all stay inside). Every file operation then goes to the
// host path of a resolved, symlink-free view path, opened without following
// a final symlink, so nothing reached through a view leaves it.
//
// Mounts: a view may show other host trees at some of its paths (a stopped
// container's volumes and bind mounts), so `host()` maps a view path through
// the longest matching mount. Resolution is done in view paths, so a link in
// a volume pointing at "/etc" lands in the view's /etc, never the host's.
//
// Races: the walk is done in user space, component by component, so a
// process could swap a checked directory for a symlink before it is used
// (CVE-2018-15664 for Docker). Operations therefore go through `at()`: the
// entry's parent directory is re-opened by the kernel with openat2
// RESOLVE_IN_ROOT (and no magic links) from the view's root or mount source,
// and the entry is reached as /proc/self/fd/<fd>/<name> with its last
// component never followed. A swap after the check then resolves inside
// the root too. The engine also freezes a running container during a copy.
import { closeSync, constants, lstatSync, openSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';
import { openat2, O_PATH, RESOLVE } from '@berth/sys';

const O_CLOEXEC = 0o2000000;

/** A host path for one view entry, valid until close(). */
export interface PinnedEntry {
  /** "/proc/self/fd/<parent fd>/<name>", or a mount's source for a mount target. */
  path: string;
  close(): void;
}

const MAX_LINKS = 40; // Linux's MAXSYMLINKS

/** A host tree mounted at `target` in the view (source is a host path). */
export interface ViewMount {
  target: string;
  source: string;
}

export class RootView {
  private readonly mounts: ViewMount[];

  /** `root`: the host directory that is the view's "/"; `mounts`: host trees shown at view paths. */
  constructor(readonly root: string, mounts: ViewMount[] = []) {
    // Longest target first, so the innermost mount wins.
    this.mounts = mounts.map((m) => ({ target: posix.normalize(m.target).replace(/\/+$/, '') || '/', source: m.source }))
      .sort((a, b) => b.target.length - a.target.length);
  }

  /** The host path showing view path `p` (absolute, normalised, symlink-free). */
  host(p: string): string {
    for (const m of this.mounts) {
      if (p === m.target) return m.source;
      if (p.startsWith(m.target + '/')) return m.source + p.slice(m.target.length);
    }
    return this.root === '/' ? p : this.root + (p === '/' ? '' : p);
  }

  /** The mount `p` (a resolved view path) lies in, or null for the root tree. */
  mountOf(p: string): ViewMount | null {
    return this.mounts.find((m) => p === m.target || p.startsWith(m.target + '/')) ?? null;
  }

  /** Whether `p` is where a mount is shown (its source is then used as is). */
  isMountTarget(p: string): boolean {
    return this.mounts.some((m) => m.target === p);
  }

  /**
   * Pins the parent of resolved view path `p` (see the header) and returns a
   * host path for `p` through it. The caller must not follow the last
   * component (lstat, O_NOFOLLOW, mkdir, symlink, unlink) and must close().
   */
  at(p: string): PinnedEntry {
    const m = this.mounts.find((x) => x.target === p);
    if (m) return { path: m.source, close: () => undefined };
    if (p === '/') {
      // The root has no parent to pin: it is pinned itself and reached as
      // "<fd>/.", the directory, not /proc/self/fd/<fd>, which lstat sees as
      // a (magic) symlink: "dir/." extracted into an existing directory
      // ("." is its top entry) failed as "cannot overwrite non-directory /".
      const fd = openSync(this.root, O_PATH | constants.O_DIRECTORY | O_CLOEXEC);
      return { path: `/proc/self/fd/${fd}/.`, close: () => closeSync(fd) };
    }
    const parent = posix.dirname(p);
    let base = this.root;
    let rel = parent.slice(1);
    for (const x of this.mounts) {
      if (parent === x.target) { base = x.source; rel = ''; break; }
      if (parent.startsWith(x.target + '/')) { base = x.source; rel = parent.slice(x.target.length + 1); break; }
    }
    const bfd = openSync(base, O_PATH | constants.O_DIRECTORY | O_CLOEXEC);
    let fd: number;
    try {
      fd = openat2(bfd, rel || '.', O_PATH | constants.O_DIRECTORY | O_CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
    } finally {
      closeSync(bfd);
    }
    return { path: `/proc/self/fd/${fd}/${posix.basename(p)}`, close: () => closeSync(fd) };
  }

  /** lstat of a view path; a mount point is stat'ed (its host source may be a symlink the kernel already followed). */
  lstat(p: string): Stats {
    // The root itself may be a magic link (/proc/<pid>/root): its target is the view's "/".
    const isMountPoint = p === '/' || this.mounts.some((m) => m.target === p);
    return isMountPoint ? statSync(this.host(p)) : lstatSync(this.host(p));
  }

  /**
   * Resolves `path` (relative paths are taken from "/") to a symlink-free
   * view path. Symlinks are followed inside the view, the last component
   * only with `followLast` (or when the path ends in "/" or "/.").
   * A missing component ends resolution: the rest is appended as is, so the
   * caller's lstat reports ENOENT. Too many links is InvalidArgument (ELOOP).
   */
  resolve(path: string, followLast: boolean): string {
    const trailing = /\/\.?$/.test(path);
    let pending = path.split('/').filter((s) => s !== '' && s !== '.');
    let resolved: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '..') { resolved.pop(); continue; }
      const last = pending.length === 0;
      const viewPath = '/' + [...resolved, part].join('/');
      let st: Stats;
      try {
        st = this.lstat(viewPath);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          resolved.push(part, ...pending);
          break;
        }
        throw e;
      }
      if (!st.isSymbolicLink() || (last && !followLast && !trailing)) {
        resolved.push(part);
        continue;
      }
      if (++links > MAX_LINKS) {
        throw new InvalidArgumentError(`too many levels of symbolic links resolving ${path}: a symlink loop?`, { field: 'path' });
      }
      const target = readlinkSync(this.host(viewPath));
      if (target.startsWith('/')) resolved = [];
      pending = [...target.split('/').filter((s) => s !== '' && s !== '.'), ...pending];
    }
    return '/' + resolved.join('/');
  }
}
