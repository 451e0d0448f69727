import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultSpec, validateSpec, withDefaults, type ContainerSpec } from './spec';

function invalid(spec: ContainerSpec): { field: string | undefined; message: string } {
  try {
    validateSpec(spec);
  } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    return { field: (e as { field?: string }).field, message: (e as Error).message };
  }
  throw new Error('spec was accepted');
}

describe('defaultSpec / withDefaults', () => {
  it('gives Docker defaults', () => {
    const s = defaultSpec('/r', ['sh']);
    expect(s.process.capabilities?.bounding).toEqual(DEFAULT_CAPABILITIES);
    expect(s.process.capabilities?.effective).toEqual(DEFAULT_CAPABILITIES);
    expect(s.process.capabilities?.inheritable).toBeUndefined();
    expect(DEFAULT_CAPABILITIES).toHaveLength(14);
    expect(s.process.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(s.process.user).toEqual({ uid: 0, gid: 0 });
    expect(s.mounts.map((m) => `${m.destination}:${m.type}`)).toEqual(['/proc:proc', '/dev:tmpfs', '/dev/pts:devpts', '/sys:sysfs', '/dev/mqueue:mqueue', '/dev/shm:tmpfs']);
    expect(s.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(s.linux.namespaces.map((n) => n.type).sort()).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(s.linux.maskedPaths).toEqual(DEFAULT_MASKED_PATHS);
    expect(s.linux.readonlyPaths).toEqual(DEFAULT_READONLY_PATHS);
    expect(s.linux.rootfsPropagation).toBe('rprivate');
    expect(s.init).toBe(false);
    expect(() => validateSpec(s)).not.toThrow();
  });

  it('keeps what the caller gave', () => {
    const s = withDefaults({ process: { args: ['x'], env: ['A=1'], cwd: '/w', user: { uid: 5, gid: 6 } }, root: { path: '/r', readonly: true }, hostname: 'h', mounts: [], init: true });
    expect(s.process.env).toEqual(['A=1']);
    expect(s.process.cwd).toBe('/w');
    expect(s.root.readonly).toBe(true);
    expect(s.hostname).toBe('h');
    expect(s.mounts).toEqual([]);
    expect(s.init).toBe(true);
  });
});

describe('validateSpec', () => {
  const base = () => defaultSpec('/r', ['sh']);

  it('names an unknown namespace and lists the valid ones', () => {
    const s = base();
    s.linux.namespaces.push({ type: 'foo' as never });
    const e = invalid(s);
    expect(e.field).toBe('linux.namespaces[5].type');
    expect(e.message).toBe('linux.namespaces[5].type: unknown namespace "foo"; expected one of pid, network, mount, ipc, uts, user, cgroup, time');
  });

  it.each<[string, (s: ContainerSpec) => void, string, RegExp]>([
    ['empty args', (s) => (s.process.args = []), 'process.args', /at least args\[0\]/],
    ['NUL in an arg', (s) => (s.process.args = ['a\0b']), 'process.args[0]', /NUL/],
    ['env without =', (s) => (s.process.env = ['NOPE']), 'process.env[0]', /KEY=VALUE/],
    ['relative cwd', (s) => (s.process.cwd = 'w'), 'process.cwd', /not an absolute path/],
    ['negative uid', (s) => (s.process.user.uid = -1), 'process.user.uid', /integer id/],
    ['bad additional gid', (s) => (s.process.user.additionalGids = [1, 1.5]), 'process.user.additionalGids[1]', /integer id/],
    ['unknown capability', (s) => (s.process.capabilities = { bounding: ['CAP_NOPE'] }), 'process.capabilities.bounding[0]', /unknown capability "CAP_NOPE"/],
    ['effective not permitted', (s) => (s.process.capabilities = { effective: ['CAP_KILL'], permitted: [] }), 'process.capabilities.effective', /subset/],
    ['ambient not inheritable', (s) => (s.process.capabilities = { permitted: ['CAP_KILL'], ambient: ['CAP_KILL'] }), 'process.capabilities.ambient', /inheritable/],
    ['unknown rlimit', (s) => (s.process.rlimits = [{ type: 'RLIMIT_X', soft: 1, hard: 1 }]), 'process.rlimits[0].type', /unknown rlimit "RLIMIT_X"/],
    ['soft > hard', (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 'unlimited', hard: 5 }]), 'process.rlimits[0].soft', /exceeds hard/],
    ['oomScoreAdj out of range', (s) => (s.process.oomScoreAdj = 2000), 'process.oomScoreAdj', /\[-1000, 1000\]/],
    ['relative root', (s) => (s.root.path = 'r'), 'root.path', /absolute/],
    ['relative mount destination', (s) => s.mounts.push({ destination: 'x', type: 'tmpfs', source: 't' }), 'mounts[6].destination', /absolute/],
    ['device with a relative path', (s) => { s.linux.devices = [{ path: 'dev/x', type: 'c', major: 1, minor: 3 }]; }, 'linux.devices[0].path', /not an absolute path/],
    ['device of an unknown type', (s) => { s.linux.devices = [{ path: '/dev/x', type: 'x' as 'c', major: 1, minor: 3 }]; }, 'linux.devices[0].type', /not c, b or p/],
    ['device mode past 07777', (s) => { s.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 0o10000 }]; }, 'linux.devices[0].fileMode', /permission bits/],
    ['duplicate namespace', (s) => s.linux.namespaces.push({ type: 'pid' }), 'linux.namespaces[5].type', /listed twice/],
    ['joined mount namespace', (s) => (s.linux.namespaces = [{ type: 'mount', path: '/proc/1/ns/mnt' }]), 'linux.namespaces[0].path', /not supported/],
    ['no mount namespace', (s) => (s.linux.namespaces = [{ type: 'pid' }]), 'linux.namespaces', /new mount namespace/],
    ['user ns without maps', (s) => s.linux.namespaces.push({ type: 'user' }), 'linux.uidMappings', /needs uidMappings/],
    ['maps without user ns', (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1, size: 1 }]), 'linux.uidMappings', /only valid with a new user namespace/],
    ['zero-size map', (s) => { s.linux.namespaces.push({ type: 'user' }); s.linux.uidMappings = [{ containerID: 0, hostID: 1, size: 0 }]; s.linux.gidMappings = [{ containerID: 0, hostID: 1, size: 1 }]; }, 'linux.uidMappings[0].size', /at least 1/],
    ['hostname without uts', (s) => { s.hostname = 'h'; s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== 'uts'); }, 'hostname', /uts namespace/],
    ['bad sysctl key', (s) => (s.linux.sysctl = { '../etc': '1' }), 'linux.sysctl["../etc"]', /dotted key/],
    ['host-wide sysctl', (s) => (s.linux.sysctl = { 'kernel.panic': '1' }), 'linux.sysctl["kernel.panic"]', /not a sysctl of a namespace/],
    ['net sysctl without a network namespace', (s) => { s.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== 'network'); }, 'linux.sysctl["net.ipv4.ip_forward"]', /not a sysctl/],
    ['bad propagation', (s) => (s.linux.rootfsPropagation = 'sideways' as never), 'linux.rootfsPropagation', /unknown propagation "sideways"/],
  ])('rejects %s', (_name, mutate, field, message) => {
    const s = base();
    mutate(s);
    const e = invalid(s);
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
    expect(e.message).toMatch(message);
  });
});
