import { describe, it, expect, afterEach } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { layoutFromMountInfo, detectCgroupLayout } from './layout';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const HYBRID = `25 21 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,pids
33 25 0:30 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,freezer
34 25 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpuset
35 25 0:32 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,blkio
`;
const UNIFIED = `35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

describe('cgroup layout detection', () => {
  const env = process.env['BERTH_CGROUP_DRIVER'];
  afterEach(() => {
    if (env === undefined) delete process.env['BERTH_CGROUP_DRIVER'];
    else process.env['BERTH_CGROUP_DRIVER'] = env;
  });

  it('hybrid (v1 controllers + a controller-less cgroup2 mount) is v1, co-mounted cpu,cpuacct share a directory', () => {
    const l = layoutFromMountInfo(HYBRID, () => []);
    expect(l.version).toBe('v1');
    expect(l.v1Mounts.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(l.v1Mounts.cpuacct).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(l.v1Mounts.memory).toBe('/sys/fs/cgroup/memory');
    expect(l.unifiedRoot).toBe('/sys/fs/cgroup/unified');
  });

  it('a single cgroup2 mount is v2 with its controllers', () => {
    const l = layoutFromMountInfo(UNIFIED, () => ['cpuset', 'cpu', 'io', 'memory', 'pids']);
    expect(l.version).toBe('v2');
    expect(l.unifiedRoot).toBe('/sys/fs/cgroup');
    expect(l.unifiedControllers).toContain('memory');
    expect(l.v1Mounts).toEqual({});
  });

  it('this host: finds the memory and freezer hierarchies or a cgroup2 root', () => {
    const l = detectCgroupLayout();
    if (l.version === 'v1') {
      for (const controller of ['memory', 'freezer'] as const) {
        const mount = l.v1Mounts[controller];
        expect(mount, controller).toMatch(/^\//);
        // A hierarchy's root always has cgroup.procs; a wrong path would not.
        expect(existsSync(join(mount!, 'cgroup.procs')), `${mount}/cgroup.procs`).toBe(true);
      }
    } else {
      expect(existsSync(join(l.unifiedRoot!, 'cgroup.controllers'))).toBe(true);
    }
  });

  it('BERTH_CGROUP_DRIVER overrides, and a bad value is an InvalidArgument naming it', () => {
    process.env['BERTH_CGROUP_DRIVER'] = 'v3';
    try {
      detectCgroupLayout();
      throw new Error('accepted');
    } catch (e) {
      expect(isInvalidArgument(e)).toBe(true);
      expect((e as Error).message).toMatch(/^BERTH_CGROUP_DRIVER: "v3" must be v1 or v2/);
    }
    delete process.env['BERTH_CGROUP_DRIVER'];
    const l = detectCgroupLayout();
    // Forcing v2 works wherever a cgroup2 filesystem is mounted (hybrid hosts included).
    if (l.unifiedRoot) expect(detectCgroupLayout('v2').version).toBe('v2');
    if (Object.keys(l.v1Mounts).length) expect(detectCgroupLayout('v1').version).toBe('v1');
  });
});
