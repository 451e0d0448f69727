// Reading files such as /etc/passwd from a container's prepared rootfs
// without following symlinks out of it: an image can ship
// /etc/passwd -> /../../../etc/passwd, and a plain readFile would then read the
// host's. Symlinks are resolved component by component against the rootfs as
// "/" (the semantics of openat2 RESOLVE_IN_ROOT). This runs before the
// container starts, so nothing inside it can race the walk.
import { lstat, readFile, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { fromNodeError, InvalidArgumentError } from '@berth/errors';
import type { RootfsReader } from './ports';

const MAX_LINKS = 40; // Linux's MAXSYMLINKS

/** The host path of `path` inside `root`, symlinks resolved within root. */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  let pending = posix.normalize('/' + path).split('/').filter(Boolean);
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') { resolved.pop(); continue; }
    const host = posix.join(root, ...resolved, part);
    let st;
    try {
      st = await lstat(host);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        resolved.push(part, ...pending);
        pending = [];
        break;
      }
      throw fromNodeError(e, `stat ${host}`);
    }
    if (!st.isSymbolicLink()) { resolved.push(part); continue; }
    if (++links > MAX_LINKS) throw new InvalidArgumentError(`too many levels of symbolic links resolving ${path} in ${root}`, { field: 'path' });
    const target = await readlink(host);
    if (target.startsWith('/')) resolved = [];
    pending = [...target.split('/').filter(Boolean), ...pending];
  }
  return posix.join(root, ...resolved);
}

/** The default reader: in-root resolution, then an ordinary read. */
export const fsRootfsReader: RootfsReader = {
  async readFile(rootfs, path) {
    const host = await resolveInRoot(rootfs, path);
    try {
      return await readFile(host, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw fromNodeError(e, `read ${path} in ${rootfs}`);
    }
  },
};
