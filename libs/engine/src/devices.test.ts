// The engine's device policy (devices.ts) against this host's /dev: Docker's
// default list, --device nodes and rules, --device-cgroup-rule, --privileged.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument, type BerthError } from '@berth/errors';
import { parseDeviceCgroupRule, parseDeviceMapping } from '@berth/container-config';
import { DEFAULT_DEVICE_RULES, devicesOf, hostDeviceNodes } from './devices';
import { defaultHostConfig, type HostConfig } from './types';

const hc = (h: Partial<HostConfig>): HostConfig => ({ ...defaultHostConfig(), ...h });
const thrown = (f: () => unknown): BerthError => {
  try {
    f();
  } catch (e) {
    return e as BerthError;
  }
  throw new Error('expected a throw');
};

describe('device policy', () => {
  it("a default container gets Docker's list: deny all, mknod of anything, rw of null/zero/full/random/urandom/tty/console/ptmx/pts/tun, no nodes", () => {
    const { rules, nodes } = devicesOf(hc({}), false);
    expect(nodes).toEqual([]);
    expect(rules).toEqual(DEFAULT_DEVICE_RULES);
    expect(rules[0]).toEqual({ allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' });
    const allowed = rules.slice(1).map((r) => `${r.type} ${r.major}:${r.minor} ${r.access}`);
    expect(allowed).toEqual([
      'c -1:-1 m', 'b -1:-1 m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:-1 rwm', 'c 10:200 rwm',
    ]);
    // Nothing of kmsg, kvm, loop, fuse, userfaultfd or tty0 is in it.
    for (const [maj, min] of [[1, 11], [10, 232], [7, 0], [10, 229], [10, 126], [4, 0]]) {
      expect(rules.some((r) => r.allow && r.access.includes('w') && r.major === maj && (r.minor === min || r.minor === -1))).toBe(false);
    }
  });

  it('--device adds the node (symlink followed, renamed, its mode and owner) and an allow rule with its permissions; rules append', () => {
    const { rules, nodes } = devicesOf(hc({ devices: [{ pathOnHost: '/dev/kmsg', pathInContainer: '/dev/klog', cgroupPermissions: 'r' }], deviceCgroupRules: ['c 10:200 rwm', 'b *:* r'] }), false);
    expect(nodes).toEqual([expect.objectContaining({ path: '/dev/klog', hostPath: '/dev/kmsg', type: 'c', major: 1, minor: 11 })]);
    expect(rules.slice(DEFAULT_DEVICE_RULES.length)).toEqual([
      { allow: true, type: 'c', major: 1, minor: 11, access: 'r' },
      { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
      { allow: true, type: 'b', major: -1, minor: -1, access: 'r' },
    ]);
  });

  it('a device that is missing or not a node is named; so is a bad rule', () => {
    const missing = thrown(() => devicesOf(hc({ devices: [{ pathOnHost: '/dev/berth-none', pathInContainer: '', cgroupPermissions: '' }] }), false));
    expect(isInvalidArgument(missing)).toBe(true);
    expect(missing.message).toMatch(/"\/dev\/berth-none": no such file or directory/);
    expect((missing as BerthError & { field?: string }).field).toBe('host_config.devices[0]');
    const file = thrown(() => devicesOf(hc({ devices: [{ pathOnHost: '/etc/hostname', pathInContainer: '', cgroupPermissions: '' }] }), false));
    expect(file.message).toMatch(/"\/etc\/hostname" is not a device node/);
    const rule = thrown(() => devicesOf(hc({ deviceCgroupRules: ['c 1:11 rwx'] }), false));
    expect(rule.message).toMatch(/invalid device cgroup rule "c 1:11 rwx"/);
  });

  it('--privileged: one "a" rule and every host /dev node but pts, shm, mqueue, fd, console and ptmx', () => {
    const { rules, nodes } = devicesOf(hc({}), true);
    expect(rules).toEqual([{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }]);
    const paths = nodes.map((n) => n.path);
    expect(paths).toEqual(expect.arrayContaining(['/dev/null', '/dev/kmsg', '/dev/zero']));
    expect(paths.some((p) => /^\/dev\/(pts|shm|mqueue|fd)\//.test(p) || p === '/dev/console' || p === '/dev/ptmx')).toBe(false);
    expect(hostDeviceNodes().length).toBe(nodes.length);
  });
});

describe('--device and --device-cgroup-rule syntax', () => {
  it('parses Docker\'s forms', () => {
    expect(parseDeviceMapping('/dev/kmsg')).toEqual({ pathOnHost: '/dev/kmsg', pathInContainer: '', cgroupPermissions: '' });
    expect(parseDeviceMapping('/dev/kmsg:r')).toEqual({ pathOnHost: '/dev/kmsg', pathInContainer: '', cgroupPermissions: 'r' });
    expect(parseDeviceMapping('/dev/sda:/dev/xvda')).toEqual({ pathOnHost: '/dev/sda', pathInContainer: '/dev/xvda', cgroupPermissions: '' });
    expect(parseDeviceMapping('/dev/sda:/dev/xvda:rwm')).toEqual({ pathOnHost: '/dev/sda', pathInContainer: '/dev/xvda', cgroupPermissions: 'rwm' });
    for (const bad of ['dev/sda', '/dev/sda:xvda:rw', '/dev/sda:/x:rwx', '/dev/sda:/x:rr', '/a:/b:r:w', '']) expect(parseDeviceMapping(bad)).toHaveProperty('error');
    expect(parseDeviceCgroupRule('c 1:11 rwm')).toEqual({ allow: true, type: 'c', major: 1, minor: 11, access: 'rwm' });
    expect(parseDeviceCgroupRule('a *:* m')).toEqual({ allow: true, type: 'a', major: -1, minor: -1, access: 'm' });
    for (const bad of ['c 1:11', 'x 1:1 r', 'c 1:1 q', 'c 1 r', 'c 99999999999:1 r']) expect(parseDeviceCgroupRule(bad)).toHaveProperty('error');
  });
});
