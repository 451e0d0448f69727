// The gateway's pure translations: Docker's create body into the engine's
// request, paths, filters, frames, events, file modes.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { goFileMode, listEntry } from './containers';
import { AUTO_REMOVE_LABEL, decodeCreate } from './create';
import { DockerHttpError, filtersParam, statusOf, stripVersion } from './http';
import { joinRef } from './images';
import { muxFrame } from './streams';
import { dockerStats } from './stats';
import { eventJson } from './system';

const invalid = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (isInvalidArgument(e)) return (e as Error).message;
    throw e;
  }
  throw new Error('no error');
};

describe('decodeCreate', () => {
  it('maps a compose-style body onto the engine request as the CLI would build it', () => {
    const d = decodeCreate({
      Image: 'busybox', Cmd: ['sh', '-c', 'echo hi'], Env: ['A=1'], Labels: { role: 'web' }, Tty: true, OpenStdin: true,
      ExposedPorts: { '80/tcp': {} }, Volumes: { '/data': {} }, StopTimeout: 3,
      HostConfig: {
        Binds: ['/srv:/srv:ro', 'named:/named'], PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }], '53/udp': [{ HostPort: '5353' }] },
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 }, Memory: 64 << 20, CpuQuota: 50000, CpuPeriod: 100000,
        Tmpfs: { '/run': 'size=1m' }, NetworkMode: 'appnet', CapAdd: ['net_admin'], UnknownField: 1,
      },
      NetworkingConfig: { EndpointsConfig: { appnet: { Aliases: ['web'] }, other: { Aliases: ['w2'] } } },
      SomethingNew: true,
    }, '/web');
    const r = d.request;
    expect(r.name).toBe('web');
    expect(r.pull).toBe('never');
    expect(r.config).toMatchObject({ image: 'busybox', cmd: { values: ['sh', '-c', 'echo hi'] }, entrypoint: null, env: ['A=1'], tty: true, openStdin: true, stopTimeout: 3, volumes: ['/data'] });
    expect(r.config!.exposedPorts).toEqual(expect.arrayContaining(['80/tcp', '53/udp']));
    expect(r.hostConfig).toMatchObject({
      networkMode: 'appnet', memory: 64 << 20, nanoCpus: 500_000_000, capAdd: ['CAP_NET_ADMIN'], autoRemove: false,
      restartPolicy: { name: 'on-failure', maximumRetryCount: 2 },
      portBindings: [
        { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 },
        { containerPort: 53, protocol: 'udp', hostIp: '', hostPort: 5353 },
      ],
    });
    expect(r.hostConfig!.mounts).toEqual([
      { type: 'bind', source: '/srv', target: '/srv', readOnly: true, options: [] },
      { type: 'volume', source: 'named', target: '/named', readOnly: false, options: [] },
      { type: 'tmpfs', source: '', target: '/run', readOnly: false, options: ['size=1m'] },
    ]);
    expect(d.aliases).toEqual(['web']);
    expect(d.extraNetworks).toEqual([{ network: 'other', aliases: ['w2'], ip: '' }]);
  });

  it('AutoRemove becomes the gateway label, not the engine flag; with a restart policy it is refused', () => {
    const d = decodeCreate({ Image: 'busybox', HostConfig: { AutoRemove: true } }, '');
    expect(d.autoRemove).toBe(true);
    expect(d.request.hostConfig!.autoRemove).toBe(false);
    expect(d.request.config!.labels).toEqual({ [AUTO_REMOVE_LABEL]: 'true' });
    expect(invalid(() => decodeCreate({ Image: 'busybox', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }, ''))).toMatch(/AutoRemove and RestartPolicy/);
  });

  it('Privileged, Devices, DeviceCgroupRules and CgroupnsMode pass to the engine as the berth CLI sends them', () => {
    const d = decodeCreate({
      Image: 'busybox',
      HostConfig: { Privileged: true, Devices: [{ PathOnHost: '/dev/kmsg', PathInContainer: '/dev/klog', CgroupPermissions: 'r' }], DeviceCgroupRules: ['c 1:11 rwm'], CgroupnsMode: 'host' },
    }, '');
    expect(d.request.hostConfig).toMatchObject({
      privileged: true, devices: [{ pathOnHost: '/dev/kmsg', pathInContainer: '/dev/klog', cgroupPermissions: 'r' }], deviceCgroupRules: ['c 1:11 rwm'], cgroupnsMode: 'host',
    });
  });

  it('names what it refuses: a missing image, bad ports, IPC none, a bad name', () => {
    expect(invalid(() => decodeCreate({}, ''))).toMatch(/Image is required/);
    expect(invalid(() => decodeCreate({ Image: 'b', ExposedPorts: { '99999/tcp': {} } }, ''))).toMatch(/ExposedPorts.*out of range/);
    expect(invalid(() => decodeCreate({ Image: 'b', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 'x' }] } } }, ''))).toMatch(/PortBindings.*"x"/);
    expect(invalid(() => decodeCreate({ Image: 'b', HostConfig: { IpcMode: 'none' } }, ''))).toMatch(/IpcMode "none" is not supported by berth/);
    expect(invalid(() => decodeCreate({ Image: 'b' }, 'a b'))).toMatch(/invalid name/);
  });
});

describe('http', () => {
  it('routes any /vX.Y prefix and unversioned paths alike', () => {
    expect(stripVersion('/v1.41/containers/json')).toBe('/containers/json');
    expect(stripVersion('/v1.24/_ping')).toBe('/_ping');
    expect(stripVersion('/containers/json')).toBe('/containers/json');
    expect(stripVersion('/v1.50/images/reg:5000/a/b:1/json')).toBe('/images/reg:5000/a/b:1/json');
  });

  it('reads both filter forms', () => {
    expect(filtersParam(new URLSearchParams({ filters: '{"label":["a=b"],"status":{"running":true,"exited":false}}' }))).toEqual({ label: ['a=b'], status: ['running'] });
    expect(invalid(() => filtersParam(new URLSearchParams({ filters: '{nope' })))).toMatch(/not JSON/);
  });

  it("maps berth's error kinds to Docker's status codes", () => {
    expect(statusOf(new DockerHttpError(501, 'x'))).toBe(501);
    expect(statusOf(new Error('plain'))).toBe(500);
  });
});

describe('encodings', () => {
  it('frames multiplexed output as Docker does', () => {
    expect([...muxFrame('stderr', Buffer.from('ab'))]).toEqual([2, 0, 0, 0, 0, 0, 0, 2, 97, 98]);
    expect(muxFrame('stdout', Buffer.alloc(0x10203))[0]).toBe(1);
    expect(muxFrame('stdout', Buffer.alloc(0x10203)).readUInt32BE(4)).toBe(0x10203);
  });

  it("Go's file mode for cp: the directory bit 31 stays positive", () => {
    expect(goFileMode(0o040755)).toBe(2 ** 31 + 0o755);
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o120777)).toBe(2 ** 27 + 0o777);
  });

  it('events in Docker words, timeNano exact, the gateway label hidden', () => {
    const line = eventJson({
      type: 'container', action: 'removed', id: 'c'.repeat(64), name: 'web', image: 'busybox', timeUnixMs: 1_765_000_000_123,
      attributes: { exit_code: '3', [AUTO_REMOVE_LABEL]: 'true', role: 'x' },
    } as never)!;
    expect(line).toContain('"timeNano":1765000000123000000');
    const ev = JSON.parse(line) as Record<string, unknown>;
    expect(ev).toMatchObject({ status: 'destroy', Action: 'destroy', Type: 'container', from: 'busybox', time: 1_765_000_000 });
    expect((ev['Actor'] as { Attributes: Record<string, string> }).Attributes).toEqual({ name: 'web', image: 'busybox', exitCode: '3', role: 'x' });
    expect(eventJson({ type: 'container', action: 'exited', id: 'c', name: 'n', image: 'i', timeUnixMs: 1, attributes: {} } as never)).toBeUndefined();
  });

  it('image, network and volume events as Docker writes them', () => {
    const id = `sha256:${'a'.repeat(64)}`;
    const doc = (ev: Record<string, unknown>) => JSON.parse(eventJson({ image: '', timeUnixMs: 1_765_000_000_000, ...ev } as never)!) as Record<string, unknown>;
    expect(doc({ type: 'image', action: 'untagged', id, name: 'docker.io/library/busybox:latest', attributes: { name: 'docker.io/library/busybox:latest', digest: 'sha256:x' } }))
      .toMatchObject({ status: 'untag', id, Type: 'image', Action: 'untag', Actor: { ID: id, Attributes: { name: 'busybox:latest' } }, scope: 'local' });
    // A pull names the reference, as Docker's does.
    expect(doc({ type: 'image', action: 'pulled', id, name: 'reg:5000/x/y:1', attributes: {} })).toMatchObject({ Action: 'pull', Actor: { ID: 'reg:5000/x/y:1' } });
    const net = doc({ type: 'network', action: 'attached', id: 'n'.repeat(64), name: 'appnet', attributes: { name: 'appnet', type: 'bridge', container: 'c'.repeat(64) } });
    expect(net).toEqual({
      Type: 'network', Action: 'connect', Actor: { ID: 'n'.repeat(64), Attributes: { name: 'appnet', type: 'bridge', container: 'c'.repeat(64) } },
      scope: 'local', time: 1_765_000_000, timeNano: 1_765_000_000_000_000_000,
    });
    expect(doc({ type: 'volume', action: 'removed', id: 'v1', name: 'v1', attributes: { driver: 'local' } })).toMatchObject({ Type: 'volume', Action: 'destroy', Actor: { ID: 'v1', Attributes: { driver: 'local' } } });
    // Docker reports a commit as the container's event only.
    expect(eventJson({ type: 'image', action: 'committed', id, name: 'x', image: '', timeUnixMs: 1, attributes: {} } as never)).toBeUndefined();
  });

  it('ps entries: ports with their host address, names with "/", the gateway label hidden', () => {
    const e = listEntry({
      id: 'a'.repeat(64), name: 'web', image: 'busybox', imageDigest: 'sha256:1', command: 'httpd', createdAtUnixMs: 2000, state: 'running',
      exitCode: 0, startedAtUnixMs: 1000, finishedAtUnixMs: 0, labels: { [AUTO_REMOVE_LABEL]: 'true', a: 'b' }, mounts: [], networks: ['bridge'],
      sizeRw: -1, sizeRootFs: -1, pid: 1, restartCount: 0, oomKilled: false, error: '',
      ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080, hostPortEnd: 0 }, { containerPort: 81, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 9000, hostPortEnd: 0 }, { containerPort: 82, protocol: 'tcp', hostIp: '', hostPort: 0, hostPortEnd: 0 }],
    } as never, 61_000, 'bridge');
    expect(e).toMatchObject({ Names: ['/web'], Labels: { a: 'b' }, Created: 2, State: 'running', Status: 'Up About a minute' });
    expect(e['Ports']).toEqual([
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 81, PublicPort: 9000, Type: 'tcp' },
      { PrivatePort: 82, Type: 'tcp' },
    ]);
  });

  it('image references joined as the pull API gives them', () => {
    expect(joinRef('busybox', 'latest')).toBe('busybox:latest');
    expect(joinRef('reg:5000/a/b', '1')).toBe('reg:5000/a/b:1');
    expect(joinRef('busybox:1.36', 'latest')).toBe('busybox:1.36');
    expect(joinRef('busybox', 'sha256:abc')).toBe('busybox@sha256:abc');
  });
});

describe('stats', () => {
  it("a first sample's precpu gives back the engine's CPU percent through the docker CLI's formula", () => {
    const s = dockerStats({ id: 'x', name: 'web', cpuPercent: 37.5, cpuUsageNs: 5e9, onlineCpus: 2, memoryUsage: 1, memoryLimit: 2, netRx: 3, netTx: 4, blockRead: 5, blockWrite: 6, pids: 7 } as never, 1000, 9e12);
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
    const systemDelta = s.cpu_stats.system_cpu_usage - s.precpu_stats.system_cpu_usage;
    expect((cpuDelta / systemDelta) * s.cpu_stats.online_cpus * 100).toBeCloseTo(37.5, 3);
    expect(s.name).toBe('/web');
    expect(s.blkio_stats.io_service_bytes_recursive.map((e) => [e.op, e.value])).toEqual([['read', 5], ['write', 6]]);
  });
});
