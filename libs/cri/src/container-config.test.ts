// The engine HostConfig of a CRI container: the pod's files and hostname.
import { describe, expect, it } from 'vitest';
import type { runtimeV1 } from '@berth/proto';
import { containerConfig, containerHostConfig, type PodContext } from './container-config';

const config = (over: Partial<runtimeV1.ContainerConfig__Output> = {}): runtimeV1.ContainerConfig__Output => ({
  metadata: { name: 'c', attempt: 0 }, image: { image: 'busybox', annotations: {}, userSpecifiedImage: '' } as never, command: [], args: [], workingDir: '',
  envs: [], mounts: [], devices: [], labels: {}, annotations: {}, logPath: '', stdin: false, stdinOnce: false, tty: false, linux: null, windows: null, cdiDevices: [],
  ...over,
} as runtimeV1.ContainerConfig__Output);

const pod: PodContext = {
  id: 'p'.repeat(64),
  record: { metadata: { name: 'web', attempt: 0 }, labels: {}, annotations: {}, logPath: '', hostname: 'webhost' },
  files: { hostname: '/s/hostname', hosts: '/s/hosts', resolvConf: '/s/resolv.conf' },
};

describe('a CRI container in its pod', () => {
  it('binds the pod\'s hostname, hosts and resolv.conf, read-only with a read-only root', () => {
    const mounts = containerHostConfig(config(), pod).mounts ?? [];
    expect(mounts.map((m) => [m.target, m.source, m.readOnly])).toEqual([
      ['/etc/hostname', '/s/hostname', false], ['/etc/hosts', '/s/hosts', false], ['/etc/resolv.conf', '/s/resolv.conf', false],
    ]);
    const ro = containerHostConfig(config({ linux: { securityContext: { readonlyRootfs: true, maskedPaths: [], readonlyPaths: [], supplementalGroups: [] } } } as never), pod).mounts ?? [];
    expect(ro.every((m) => m.readOnly)).toBe(true);
  });
  it('leaves a path the request mounts itself (kubelet\'s /etc/hosts) to that mount', () => {
    const own = config({ mounts: [{ containerPath: '/etc/hosts/', hostPath: '/kubelet/etc-hosts', readonly: false, selinuxRelabel: false, propagation: 'PROPAGATION_PRIVATE' }] } as never);
    const mounts = containerHostConfig(own, pod).mounts ?? [];
    expect(mounts.filter((m) => (m.target ?? '').startsWith('/etc/hosts')).map((m) => m.source)).toEqual(['/kubelet/etc-hosts']);
  });
  it('PID namespace: none asked (the CRI\'s zero value) or POD is the pod\'s, CONTAINER its own, NODE the host\'s, TARGET that container\'s', () => {
    const pid = (o: Record<string, unknown> | null) => containerHostConfig(
      config(o ? { linux: { securityContext: { maskedPaths: [], readonlyPaths: [], supplementalGroups: [], namespaceOptions: o } } } as never : {}), pod,
    ).pidMode;
    expect(pid(null)).toBe(`container:${pod.id}`);
    expect(pid({ pid: 'POD' })).toBe(`container:${pod.id}`);
    expect(pid({ pid: 'CONTAINER' })).toBe('');
    expect(pid({ pid: 'NODE' })).toBe('host');
    expect(pid({ pid: 'TARGET', targetId: 'abc' })).toBe('container:abc');
  });
  it('HOSTNAME is the pod\'s unless the request sets it', () => {
    expect(containerConfig(config(), pod, {}).env).toEqual(['HOSTNAME=webhost']);
    expect(containerConfig(config({ envs: [{ key: 'HOSTNAME', value: 'mine' }] }), pod, {}).env).toEqual(['HOSTNAME=webhost', 'HOSTNAME=mine']);
  });
});

describe('a CRI container\'s security context and mounts', () => {
  const sc = (over: Record<string, unknown>) => config({ linux: { securityContext: { maskedPaths: [], readonlyPaths: [], supplementalGroups: [], ...over } } } as never);

  it('drop ALL reaches the engine as --cap-drop ALL (no capability at all), names with or without CAP_', () => {
    const h = containerHostConfig(sc({ capabilities: { addCapabilities: [], dropCapabilities: ['ALL'] } }), pod);
    expect(h.capDrop).toEqual(['ALL']);
    expect(h.capAdd).toEqual([]);
    const some = containerHostConfig(sc({ capabilities: { addCapabilities: ['net_admin'], dropCapabilities: ['CAP_CHOWN'] } }), pod);
    expect([some.capAdd, some.capDrop]).toEqual([['CAP_NET_ADMIN'], ['CAP_CHOWN']]);
  });

  it('kubelet\'s masked and read-only paths replace the defaults (none for a privileged container)', () => {
    const h = containerHostConfig(sc({ maskedPaths: ['/bin/ls'], readonlyPaths: ['/tmp'] }), pod);
    expect([h.maskedPaths, h.readonlyPaths]).toEqual([['/bin/ls'], ['/tmp']]);
    const priv = containerHostConfig(sc({ privileged: true, maskedPaths: ['/bin/ls'] }), pod);
    expect(priv.maskedPaths).toBeUndefined();
  });

  it('mount propagation: Bidirectional is rshared, HostToContainer rslave, Private rprivate', () => {
    const mount = (propagation: string) => ({ containerPath: '/m', hostPath: '/h', readonly: false, selinuxRelabel: false, propagation });
    const h = containerHostConfig(config({ mounts: ['PROPAGATION_BIDIRECTIONAL', 'PROPAGATION_HOST_TO_CONTAINER', 'PROPAGATION_PRIVATE'].map(mount) } as never), pod);
    expect((h.mounts ?? []).filter((m) => m.target === '/m').map((m) => m.options)).toEqual([['rshared'], ['rslave'], ['rprivate']]);
  });
});
