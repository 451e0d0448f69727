import { describe, expect, it } from 'vitest';
import { inspectContainer, rfc3339, ZERO_TIME } from './inspect';
import { newContainerRecord } from './record';
import type { ContainerRecord } from './types';

const ID = 'f'.repeat(64);
function rec(p: Partial<ContainerRecord> = {}): ContainerRecord {
  const base = newContainerRecord({
    id: ID, name: 'web', image: 'nginx:1.27', imageDigest: 'sha256:' + 'a'.repeat(64), now: Date.UTC(2024, 0, 2, 3, 4, 5, 120),
    config: { cmd: ['nginx', '-g', 'daemon off;'], entrypoint: ['/docker-entrypoint.sh'], env: ['PATH=/usr/bin'], exposedPorts: ['80/tcp', '443/tcp'], labels: { a: 'b' }, stopSignal: 'SIGQUIT' },
    hostConfig: { portBindings: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 }], restartPolicy: { name: 'on-failure', maximumRetryCount: 3 }, memory: 1 << 26, pidsLimit: 100 },
    args: ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;'],
  });
  return { ...base, seq: 1, ...p };
}

describe('inspect', () => {
  it('formats times as Go does', () => {
    expect(rfc3339(0)).toBe(ZERO_TIME);
    expect(rfc3339(Date.UTC(2024, 0, 2, 3, 4, 5, 120))).toBe('2024-01-02T03:04:05.12Z');
    expect(rfc3339(Date.UTC(2024, 0, 2, 3, 4, 5, 0))).toBe('2024-01-02T03:04:05Z');
  });

  it('has Docker\'s shape for a created container', () => {
    const j = inspectContainer(rec()) as any;
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['Id', 'Created', 'Path', 'Args', 'State', 'Image', 'Name', 'RestartCount', 'HostConfig', 'Config', 'NetworkSettings', 'Mounts']));
    expect(j.Id).toBe(ID);
    expect(j.Name).toBe('/web');
    expect(j.Path).toBe('/docker-entrypoint.sh');
    expect(j.Args).toEqual(['nginx', '-g', 'daemon off;']);
    expect(j.State).toEqual({ Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME });
    expect(j.Image).toBe('sha256:' + 'a'.repeat(64));
    expect(j.Config).toMatchObject({ Hostname: 'ffffffffffff', Image: 'nginx:1.27', ExposedPorts: { '80/tcp': {}, '443/tcp': {} }, StopSignal: 'SIGQUIT', Labels: { a: 'b' }, Volumes: null });
    expect(j.HostConfig).toMatchObject({ PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 }, Memory: 67108864, PidsLimit: 100, Binds: null, CapAdd: null });
    expect(j.NetworkSettings.Ports).toEqual({ '80/tcp': null, '443/tcp': null });
    expect(j.Mounts).toEqual([]);
  });

  it('running and paused states, ports and mounts', () => {
    const j = inspectContainer(rec({
      state: 'paused', pid: 77, startedAt: Date.UTC(2024, 0, 2, 3, 5, 0),
      mounts: [
        { type: 'volume', name: 'data', source: '/var/lib/berth/volumes/data/_data', destination: '/data', rw: true, options: [] },
        { type: 'bind', name: '', source: '/srv', destination: '/srv', rw: false, options: [] },
        { type: 'tmpfs', name: '', source: '', destination: '/run', rw: true, options: ['size=64m'] },
      ],
      networkSettings: { ...rec().networkSettings, ipAddress: '172.17.0.2', ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }] },
    })) as any;
    expect(j.State).toMatchObject({ Status: 'paused', Running: true, Paused: true, Pid: 77, StartedAt: '2024-01-02T03:05:00Z' });
    expect(j.NetworkSettings.Ports).toEqual({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null });
    expect(j.NetworkSettings.IPAddress).toBe('172.17.0.2');
    expect(j.Mounts).toEqual([
      { Type: 'volume', Name: 'data', Source: '/var/lib/berth/volumes/data/_data', Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'bind', Source: '/srv', Destination: '/srv', Mode: 'ro', RW: false, Propagation: 'rprivate' },
    ]);
    expect(j.HostConfig.Binds).toEqual(['data:/data', '/srv:/srv:ro']);
    expect(j.HostConfig.Tmpfs).toEqual({ '/run': 'size=64m' });
    expect(JSON.parse(JSON.stringify(j))).toEqual(j); // plain JSON
  });
});
