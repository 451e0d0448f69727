// A service's state directory, closed to other users. BERTH_ROOT and
// <root>/<service> are 0700 (0710 where a `--userns auto` container's root
// holds a traversal grant: @berth/sys posix-acl.ts), made so at creation and
// tightened on every start, since a root made by an older berth was 0755 with
// 0711 and 0755 dirs below it: any local user could reach container roots
// (and run a setuid binary a container put there), volumes and engine.db.
// The mode is set explicitly, never left to the umask. The files below them
// hold container config and state (env values, labels, addresses): 0600,
// set at creation and tightened at start (closeDbFile, closeStateTree).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { closeDir } from '@berth/sys';
import { berthPaths, stateDir, type BerthPaths } from './config';

/** Creates or tightens BERTH_ROOT itself. */
export function prepareStateRoot(paths: BerthPaths = berthPaths()): void {
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  closeDir(paths.root);
}

/** Creates or tightens BERTH_ROOT and `<root>/<service>`; returns the latter. */
export function prepareStateDir(service: string, paths: BerthPaths = berthPaths()): string {
  prepareStateRoot(paths);
  const dir = stateDir(service, paths);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeDir(dir);
  return dir;
}

/**
 * Makes an SQLite database file 0600 before SQLite opens it, creating it if
 * missing, and tightens its -wal and -shm: SQLite creates those with the
 * database's mode, so a 0600 database keeps them 0600. A database an older
 * berth made 0644 (with its -wal/-shm) is tightened here. ':memory:' and ''
 * are left alone.
 */
export function closeDbFile(path: string): void {
  if (path === '' || path === ':memory:') return;
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(f, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/**
 * Tightens everything under `dir` (a service's state, made by an older berth
 * or by a tool that left the umask's modes, such as CNI host-local): regular
 * files open to group or others become 0600, directories 0700. Symlinks are
 * not followed; a missing dir is nothing to do. Not for a tree that holds a
 * `--userns auto` traversal grant (closeDir keeps those).
 */
export async function closeStateTree(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  for (const n of names) {
    const p = join(dir, n);
    try {
      const st = await lstat(p);
      if (st.isDirectory()) {
        if ((st.mode & 0o7777) !== 0o700) await chmod(p, 0o700);
        await closeStateTree(p);
      } else if (st.isFile() && (st.mode & 0o077) !== 0) {
        await chmod(p, 0o600);
      }
    } catch (e) {
      // Removed meanwhile (a release racing the start): nothing to close.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}
