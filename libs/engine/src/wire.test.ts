// Round trips through the real proto (protos/berth/engine/v1/engine.proto)
// with the loader options berth uses, so the proto and the engine types
// cannot drift apart unnoticed.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { resolve } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { logEntryToWire, logsRequestFromWire, createRequestFromWire, createRequestToWire, eventToWire, filtersFromWire, filtersToWire, inspectToWire, updateRequestFromWire } from './wire';
import { defaultContainerConfig, defaultHostConfig } from './types';
import { newContainerRecord } from './record';

const pkg = protoLoader.loadSync('berth/engine/v1/engine.proto', {
  includeDirs: [resolve(__dirname, '..', '..', '..', 'protos')], keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true,
});
const method = (name: string) => (pkg['berth.engine.v1.Engine'] as Record<string, { requestSerialize: (v: unknown) => Buffer; requestDeserialize: (b: Buffer) => unknown; responseSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }>)[name]!;
const roundTrip = (name: string, v: unknown) => { const m = method(name); return m.requestDeserialize(m.requestSerialize(v)); };
const roundTripResponse = (name: string, v: unknown) => { const m = method(name); return m.responseDeserialize(m.responseSerialize(v)); };

describe('engine wire mapping', () => {
  it('the service has every rpc the brief asks for', () => {
    expect(Object.keys(pkg['berth.engine.v1.Engine']!).sort()).toEqual([
      'Attach', 'Changes', 'Commit', 'ConnectNetwork', 'CopyFrom', 'CopyTo', 'CreateContainer', 'CreateVolume', 'DisconnectNetwork', 'Events', 'Exec', 'Export', 'Info',
      'InspectContainer', 'InspectVolume', 'KillContainer', 'ListContainers', 'ListVolumes', 'Logs', 'PauseContainer', 'Prune', 'PruneVolumes',
      'RemoveContainer', 'RemoveVolume', 'Rename', 'ReopenContainerLog', 'RestartContainer', 'RunAttached', 'RunContainer', 'StartContainer', 'StatPath', 'Stats', 'StopContainer', 'Top',
      'UnpauseContainer', 'UpdateContainer', 'Version', 'WaitContainer',
    ]);
  });

  it('create request survives the wire with null vs empty Cmd/Entrypoint and defaults', () => {
    const config = { ...defaultContainerConfig('alpine'), cmd: null, entrypoint: [''], env: ['A=1'], labels: { a: 'b' }, stopTimeout: 0 };
    const hostConfig = { ...defaultHostConfig(), memory: 64 << 20, nanoCpus: 1_500_000_000, portBindings: [{ containerPort: 80, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 8080 }],
      mounts: [{ type: 'volume' as const, source: 'data', target: '/data', readOnly: true, options: ['nocopy'] }], restartPolicy: { name: 'on-failure' as const, maximumRetryCount: 3 } };
    const back = createRequestFromWire(roundTrip('CreateContainer', createRequestToWire({ name: 'web', config, hostConfig, pull: 'never' })) as never);
    expect(back).toEqual({ name: 'web', config, hostConfig, pull: 'never' });
    const cfg2 = { ...config, cmd: [], entrypoint: null, stopTimeout: null };
    expect(createRequestFromWire(roundTrip('CreateContainer', createRequestToWire({ config: cfg2, hostConfig: defaultHostConfig() })) as never))
      .toEqual({ name: undefined, config: cfg2, hostConfig: defaultHostConfig(), pull: 'missing' });
  });

  it("cgroup_parent: kubelet's /kubepods/... path kept relative and normalized; '..' refused naming the field", () => {
    const hc = (cgroupParent: string) => createRequestFromWire(roundTrip('CreateContainer', { config: { image: 'x' }, hostConfig: { cgroupParent } }) as never).hostConfig;
    expect(hc('/kubepods/besteffort/pod-1234/').cgroupParent).toBe('kubepods/besteffort/pod-1234');
    expect(hc('kubepods-besteffort-pod1234.slice').cgroupParent).toBe('kubepods-besteffort-pod1234.slice');
    expect(hc('').cgroupParent).toBeUndefined();
    for (const bad of ['/kubepods/../../system.slice', 'a/./b', 'pod x']) {
      let err: unknown;
      try {
        hc(bad);
      } catch (e) {
        err = e;
      }
      expect(isInvalidArgument(err), bad).toBe(true);
      expect((err as { field?: string }).field).toBe('host_config.cgroup_parent');
    }
  });

  it('an empty request gets Docker defaults or a named field error', () => {
    expect(() => createRequestFromWire(roundTrip('CreateContainer', {}) as never)).toThrow('config.image is required');
    const r = createRequestFromWire(roundTrip('CreateContainer', { config: { image: 'x' } }) as never);
    expect(r.hostConfig).toEqual(defaultHostConfig());
    expect(r.pull).toBe('missing');
    expect(() => createRequestFromWire({ config: { image: 'x' }, pull: 'sometimes' })).toThrow(/pull "sometimes"/);
    expect(() => createRequestFromWire({ config: { image: 'x' }, hostConfig: { restartPolicy: { name: 'always', maximumRetryCount: 2 } } })).toThrow(/cannot be used with restart policy "always"/);
    expect(() => createRequestFromWire({ config: { image: 'x' }, hostConfig: { mounts: [{ type: 'bind', source: 'rel', target: '/x' }] } })).toThrow(/absolute host path/);
    expect(() => createRequestFromWire({ config: { image: 'x' }, hostConfig: { portBindings: [{ containerPort: 0 }] } })).toThrow(/expected a port from 1 to 65535/);
  });

  it('filters and updates', () => {
    const f = { status: ['exited', 'created'], label: ['a=b'] };
    expect(filtersFromWire((roundTrip('ListContainers', { filters: filtersToWire(f) }) as { filters: never }).filters)).toEqual(f);
    const u = updateRequestFromWire(roundTrip('UpdateContainer', { id: 'x', memory: 64 * 1024 * 1024 }) as never);
    expect(u.memory).toBe(64 * 1024 * 1024);
    expect(u.nanoCpus).toBeUndefined(); // optional: absent stays unchanged
    expect(u.restartPolicy).toBeUndefined();
  });

  it('logs requests: absent tail = all, 0 = none, both streams when neither is asked', () => {
    expect(logsRequestFromWire(roundTrip('Logs', { id: 'x' }) as never)).toMatchObject({ tail: undefined, stdout: true, stderr: true, follow: false });
    expect(logsRequestFromWire(roundTrip('Logs', { id: 'x', tail: 0, stderr: true, since: '12.5' }) as never)).toMatchObject({ tail: 0, stdout: false, stderr: true, sinceNs: 12_500_000_000n });
    expect(() => logsRequestFromWire({ until: 'soon' })).toThrow(/invalid timestamp "soon" for until/);
    // --log-opt from a gRPC client is checked before anything is created.
    expect(() => createRequestFromWire({ config: { image: 'alpine' }, hostConfig: { logConfig: { type: '', config: { 'max-file': '0' } } } })).toThrow(
      expect.objectContaining({ field: 'host_config.log_config', message: expect.stringMatching(/invalid log opt max-file "0"/) }),
    );
    expect(createRequestFromWire({ config: { image: 'alpine' }, hostConfig: { logConfig: { type: 'k8s-file', config: { 'max-size': '1m' } } } }).hostConfig.logConfig).toEqual({ type: 'k8s-file', config: { 'max-size': '1m' } });
    // Lines go out without their newline; a last, unfinished line has none to drop.
    expect(logEntryToWire({ time: 't', stream: 'stdout', line: Buffer.from('a\n') }).line.toString()).toBe('a');
    expect(logEntryToWire({ time: 't', stream: 'stderr', line: Buffer.from('b') })).toEqual({ time: 't', stream: 'stderr', line: Buffer.from('b'), partial: true });
    expect(logEntryToWire({ time: 't', stream: 'stdout', line: Buffer.from('a\n') }).partial).toBe(false);
  });

  it('stats samples map field for field', () => {
    const smp = { id: 'x', name: 'web', cpuPercent: 12.5, cpuUsageNs: 5, onlineCpus: 2, memoryUsage: 7, memoryLimit: 9, netRx: 1, netTx: 2, blockRead: 3, blockWrite: 4, pids: 6 };
    expect(roundTripResponse('Stats', { stats: [smp], timeUnixMs: 1 })).toEqual({ stats: [smp], timeUnixMs: 1 });
  });

  it('inspect and events encode', () => {
    const rec = { ...newContainerRecord({ id: 'a'.repeat(64), name: 'web', image: 'alpine', now: 5, args: ['sh'] }), seq: 1 };
    const w = roundTripResponse('InspectContainer', inspectToWire(rec)) as { json: string; summary: { name: string; command: string; sizeRw: number } };
    expect(JSON.parse(w.json).Name).toBe('/web');
    expect(w.summary).toMatchObject({ name: 'web', command: 'sh', sizeRw: -1 });
    const ev = roundTripResponse('Events', eventToWire({ id: 'x', name: 'web', image: 'alpine', action: 'die', time: 1000, exitCode: 137, labels: { l: 'v' } })) as { attributes: Record<string, string>; timeUnixMs: number };
    expect(ev.attributes).toEqual({ l: 'v', exit_code: '137' });
    expect(ev.timeUnixMs).toBe(1000);
  });
});
