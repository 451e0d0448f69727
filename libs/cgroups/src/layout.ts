// Which cgroup hierarchy the host runs, found from the mount table and kept
// apart from the drivers (as youki keeps it). Three shapes exist:
//   unified  - one cgroup2 mount at /sys/fs/cgroup carrying every controller (v2)
//   hybrid   - v1 controller mounts plus a cgroup2 mount (often /sys/fs/cgroup/unified)
//              with no controllers: berth treats it as v1
//   legacy   - v1 controller mounts only (v1)
// BERTH_CGROUP_DRIVER=v1|v2 (or the `driver` option) overrides detection.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, FailedPreconditionError } from '@berth/errors';
import type { CgroupVersion } from './driver';

/** The v1 controllers berth manages (a hierarchy each, possibly co-mounted). */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'freezer', 'devices'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export interface CgroupLayout {
  version: CgroupVersion;
  /** v1: mount point per controller berth uses (co-mounted controllers share one). */
  v1Mounts: Partial<Record<V1Controller, string>>;
  /** The cgroup2 mount point, when there is one (v2 root, or hybrid's unified mount). */
  unifiedRoot: string | undefined;
  /** Controllers listed in the cgroup2 root's cgroup.controllers. */
  unifiedControllers: string[];
}

interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** Parses /proc/self/mountinfo lines (proc(5)): fields, " - ", fstype, source, super options. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fsType, , superOpts] = right.split(' ');
    const mountPoint = fields[4];
    if (!mountPoint || !fsType) continue;
    out.push({ mountPoint: mountPoint.replace(/\\040/g, ' '), fsType, superOptions: (superOpts ?? '').split(',') });
  }
  return out;
}

export function layoutFromMountInfo(text: string, readControllers: (root: string) => string[]): CgroupLayout {
  const v1Mounts: Partial<Record<V1Controller, string>> = {};
  let unifiedRoot: string | undefined;
  for (const m of parseMountInfo(text)) {
    if (m.fsType === 'cgroup2') {
      unifiedRoot ??= m.mountPoint;
    } else if (m.fsType === 'cgroup') {
      for (const c of V1_CONTROLLERS) if (m.superOptions.includes(c)) v1Mounts[c] ??= m.mountPoint;
    }
  }
  const unifiedControllers = unifiedRoot ? readControllers(unifiedRoot) : [];
  const hasV1 = Object.keys(v1Mounts).length > 0;
  // A cgroup2 mount beside v1 controllers is the hybrid layout: it carries no
  // controllers while they are bound to v1, so berth uses v1.
  const version: CgroupVersion = hasV1 ? 'v1' : 'v2';
  return { version, v1Mounts, unifiedRoot, unifiedControllers };
}

/**
 * Detects the host's layout from /proc/self/mountinfo. `override` (or env
 * BERTH_CGROUP_DRIVER) forces v1 or v2; forcing a hierarchy the host does not
 * have mounted fails with FailedPrecondition.
 */
export function detectCgroupLayout(override: string | undefined = process.env['BERTH_CGROUP_DRIVER']): CgroupLayout {
  const layout = layoutFromMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'), (root) => {
    try {
      return readFileSync(`${root}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return [];
    }
  });
  if (override === undefined || override === '') return layout;
  if (override !== 'v1' && override !== 'v2') {
    throw new InvalidArgumentError(`BERTH_CGROUP_DRIVER: "${override}" must be v1 or v2`, { field: 'BERTH_CGROUP_DRIVER' });
  }
  if (override === 'v1' && Object.keys(layout.v1Mounts).length === 0) {
    throw new FailedPreconditionError('cgroup driver v1 was requested but no cgroup v1 controllers are mounted');
  }
  if (override === 'v2' && !layout.unifiedRoot) {
    throw new FailedPreconditionError('cgroup driver v2 was requested but no cgroup2 filesystem is mounted');
  }
  return { ...layout, version: override };
}
