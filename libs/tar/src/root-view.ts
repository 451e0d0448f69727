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
// Limits: the walk is done in user space, component by component; a process
// that swaps a directory for a symlink between the walk and the open could
// win a race (CVE-2018-15664 for Docker). Callers that copy into a live
// container pause it first or accept that (docs/design/engine.md, "cp").
import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';

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
