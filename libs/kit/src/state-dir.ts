// A service's state directory, closed to other users. BERTH_ROOT and
// <root>/<service> are 0700 (0710 where a `--userns auto` container's root
// holds a traversal grant: @berth/sys posix-acl.ts), made so at creation and
// tightened on every start, since a root made by an older berth was 0755 with
// 0711 and 0755 dirs below it: any local user could reach container roots
// (and run a setuid binary a container put there), volumes and engine.db.
// The mode is set explicitly, never left to the umask.
import { mkdirSync } from 'node:fs';
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
