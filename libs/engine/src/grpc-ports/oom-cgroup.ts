// Where the monitor reads a container's OOM kill counter.
//
// The monitor reports State.OOMKilled from the `oom_kill` counter of the
// memory cgroups listed in the spec's linux.cgroupsPaths (read at start and
// at the exit; docs/design/monitor.md). The engine moves the init into its
// cgroups with the cgroups service's AddProcess, so without this list the
// monitor had no counter and a container killed by the OOM killer showed
// OOMKilled false. The shim also places the init in each listed directory at
// create, which is where AddProcess puts it anyway.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The memory cgroup directory (absolute) of the cgroup at `path` (relative to
 * the hierarchy roots, as the cgroups service returns it): the v1 memory
 * hierarchy's, or the unified one's on v2; [] when neither exists.
 */
export function memoryCgroupDirs(path: string, root = '/sys/fs/cgroup'): string[] {
  if (!path) return [];
  const v2 = existsSync(join(root, 'cgroup.controllers'));
  const dir = v2 ? join(root, path) : join(root, 'memory', path);
  return existsSync(dir) ? [dir] : [];
}
