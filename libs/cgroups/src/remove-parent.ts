// Removing a whole berth parent (berth-test-<rand> in tests, or `berth` on
// uninstall) from every hierarchy: v1 mounts each controller separately, v2
// has one tree. Only empty cgroups can be removed (rmdir), so children go
// first; a cgroup that still holds processes is left and reported.
import { readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function removeTree(dir: string, left: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return; // gone
  }
  for (const e of entries) {
    const p = join(dir, e);
    try {
      if (statSync(p).isDirectory()) removeTree(p, left);
    } catch {
      /* raced away */
    }
  }
  try {
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
  }
}

/**
 * Removes `parent` (a name under the hierarchy roots, e.g. "berth-test-ab12")
 * with all its children from every hierarchy under `root`. Returns the
 * directories that could not be removed (still holding processes).
 */
export function removeCgroupParent(parent: string, root = '/sys/fs/cgroup'): string[] {
  if (!parent || parent.includes('..') || parent.startsWith('/')) throw new Error(`refusing to remove cgroup parent "${parent}"`);
  const left: string[] = [];
  const candidates = [join(root, parent)];
  for (const h of readdirSync(root)) candidates.push(join(root, h, parent));
  for (const c of candidates) {
    try {
      if (statSync(c).isDirectory()) removeTree(c, left);
    } catch {
      /* not in this hierarchy */
    }
  }
  return left;
}
