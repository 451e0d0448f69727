// network connect / disconnect through the Engine over the in-memory service
// doubles: what is called when, what the record keeps, that connections are
// attached again at every start (and after an engine restart), and that every
// refused request leaves the record and the services as they were. The real
// datapath is covered by service.e2e.test.ts and libs/networks' connect.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InternalError, isAlreadyExists, isFailedPrecondition, isInvalidArgument, isNotFound, rejection } from '@berth/errors';
import type { CreateRequest, Engine } from './engine';
import { inspectContainer } from './inspect';
import type { ManualClock } from './restart';
import { defaultContainerConfig, defaultHostConfig, type HostConfig } from './types';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';
import type { RecordingPorts } from './testing/recording-ports';

let f: EngineFixture;
let clock: ManualClock;
let ports: RecordingPorts;
let engine: Engine;

beforeEach(() => {
  f = engineFixture({ prefix: 'berth-engine-connect-' });
  ({ clock, ports, engine } = f);
  ports.knownNetworks.set('back', { name: 'back', id: 'k'.repeat(64), subnet: '10.219.140.0/24', gateway: '10.219.140.1', isDefault: false, driver: 'bridge' });
  ports.knownNetworks.set('front', { name: 'front', id: 'f'.repeat(64), subnet: '10.219.141.0/24', gateway: '10.219.141.1', isDefault: false, driver: 'bridge' });
});
afterEach(() => f.close());

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

function req(name: string, host: Partial<HostConfig> = {}): CreateRequest {
  return { name, config: { ...defaultContainerConfig('alpine') }, hostConfig: { ...defaultHostConfig(), ...host } };
}

const netCalls = (id: string) => ports.rec.calls.filter((c) => c.startsWith('networks.') && c.endsWith(id) && !c.startsWith('networks.readCounters'));

describe('network connect / disconnect (engine over service doubles)', () => {
  it('a running container is attached at once, its hosts rewritten; disconnect detaches it', async () => {
    const c = await engine.run(req('web'));
    ports.rec.calls.length = 0;
    const r = await engine.connectNetwork('web', 'back', { aliases: ['api'], ip: '10.219.140.9' });
    expect(r).toMatchObject({ network: 'back', endpoint: { ipAddress: '10.219.140.9', ipamIpv4Address: '10.219.140.9', aliases: ['api'] } });
    expect(netCalls(c.id)).toEqual([`networks.connect ${c.id}`, `networks.writeHostsFiles ${c.id}`]);
    expect(ports.rec.live.has(`net ${c.id} back`)).toBe(true);
    const rec = engine.store.get(c.id);
    expect(rec.connections).toEqual([{ network: 'back', aliases: ['api'], ip: '10.219.140.9' }]);
    expect(Object.keys(rec.networkSettings.networks).sort()).toEqual(['back', 'bridge']);
    const nets = (inspectContainer(rec) as { NetworkSettings: { Networks: Record<string, { IPAMConfig: unknown; IPAddress: string; Aliases: string[] | null }> } }).NetworkSettings.Networks;
    expect(nets.back).toMatchObject({ IPAMConfig: { IPv4Address: '10.219.140.9' }, IPAddress: '10.219.140.9', Aliases: ['api'] });
    expect(nets.bridge!.IPAMConfig).toBeNull();

    ports.rec.calls.length = 0;
    await engine.disconnectNetwork(c.id.slice(0, 12), 'back');
    expect(netCalls(c.id)).toEqual([`networks.disconnect ${c.id}`, `networks.writeHostsFiles ${c.id}`]);
    expect(ports.rec.live.has(`net ${c.id} back`)).toBe(false);
    expect(engine.store.get(c.id).connections).toEqual([]);
    expect(Object.keys(engine.store.get(c.id).networkSettings.networks)).toEqual(['bridge']);
  });

  it('a created container keeps the connection and is attached when it starts, again on every restart and after an engine restart', async () => {
    const c = await engine.create(req('job', { restartPolicy: { name: 'always', maximumRetryCount: 0 } }));
    const r = await engine.connectNetwork('job', 'back');
    expect(r.endpoint).toMatchObject({ networkId: 'k'.repeat(64), ipAddress: '' });
    expect(netCalls(c.id)).toEqual([]); // nothing to attach yet
    expect(engine.store.get(c.id).networkSettings.networks.back).toMatchObject({ ipAddress: '' });

    await engine.start('job');
    expect(netCalls(c.id)).toEqual([`networks.attach ${c.id}`, `networks.connect ${c.id}`, `networks.writeHostsFiles ${c.id}`]);
    expect(engine.store.get(c.id).networkSettings.networks.back).toMatchObject({ ipAddress: '172.31.0.2' });

    // The restart policy starts it again: the connection comes back with it.
    ports.rec.calls.length = 0;
    clock.advance(20_000);
    ports.exitProcess(c.id, { exitCode: 1 });
    await flush();
    clock.advance(60_000);
    await flush();
    expect(engine.store.get(c.id).state).toBe('running');
    expect(netCalls(c.id)).toEqual([`networks.detach ${c.id}`, `networks.removeHostsFiles ${c.id}`, `networks.attach ${c.id}`, `networks.connect ${c.id}`, `networks.writeHostsFiles ${c.id}`]);

    // A new engine over the same database still has it.
    await engine.stop('job', 0);
    engine = f.reopen();
    ports.rec.calls.length = 0;
    await engine.start('job');
    expect(netCalls(c.id)).toEqual([`networks.attach ${c.id}`, `networks.connect ${c.id}`, `networks.writeHostsFiles ${c.id}`]);
    expect(engine.store.get(c.id).connections).toEqual([{ network: 'back', aliases: [], ip: '' }]);
  });

  it('connect to the network a created container was created on, with aliases, sets its names there for the next start (compose)', async () => {
    const c = await engine.create(req('svc', { networkMode: 'back' }));
    const r = await engine.connectNetwork('svc', 'back', { aliases: ['web', c.id.slice(0, 12)] });
    expect(r.endpoint.aliases).toEqual(['web', c.id.slice(0, 12)]);
    expect(netCalls(c.id)).toEqual([]);
    expect(engine.store.get(c.id).connections ?? []).toEqual([]);
    await engine.start('svc');
    expect(engine.store.get(c.id).networkSettings.networks.back!.aliases).toEqual(['svc', 'web', c.id.slice(0, 12)]);
    // Running, it is the existing endpoint again; on the default network aliases are refused.
    expect(isAlreadyExists(await rejection(engine.connectNetwork('svc', 'back', { aliases: ['x'] })))).toBe(true);
    await engine.create(req('plain'));
    expect(isInvalidArgument(await rejection(engine.connectNetwork('plain', 'bridge', { aliases: ['x'] })))).toBe(true);
  });

  it('a connection that cannot be attached at start fails the start and leaves nothing attached', async () => {
    const c = await engine.create(req('job'));
    await engine.connectNetwork('job', 'back');
    ports.knownNetworks.delete('back'); // removed meanwhile
    const err = await rejection(engine.start('job'));
    expect(isNotFound(err)).toBe(true);
    expect(String(err)).toContain('network back not found');
    expect([...ports.rec.live].some((k) => k.startsWith(`net ${c.id}`) || k === `process ${c.id}` || k === `cgroup ${c.id}`)).toBe(false);
    // Without -f the gone network is NotFound; -f drops the entry.
    expect(isNotFound(await rejection(engine.disconnectNetwork('job', 'back')))).toBe(true);
    await engine.disconnectNetwork('job', 'back', { force: true });
    expect(engine.store.get(c.id).connections).toEqual([]);
    expect((await engine.start('job')).state).toBe('running');
  });

  it('refuses what Docker refuses, naming it, and changes nothing', async () => {
    const web = await engine.run(req('web'));
    await engine.connectNetwork('web', 'back');
    const host = await engine.create(req('hh', { networkMode: 'host' }));
    const none = await engine.create(req('nn', { networkMode: 'none' }));
    const shared = await engine.create(req('ss', { networkMode: `container:${web.id}` }));
    const onBack = await engine.create(req('bb', { networkMode: 'back' }));
    const snapshot = () => engine.list({ all: true }).map((c) => JSON.stringify([c.connections, c.networkSettings.networks]));
    const before = snapshot();
    const liveBefore = [...ports.rec.live].sort();
    ports.rec.calls.length = 0;

    const cases: [Promise<unknown>, (e: unknown) => boolean, RegExp][] = [
      [engine.connectNetwork('ghost', 'back'), isNotFound, /no such container: ghost/],
      [engine.connectNetwork('web', 'nowhere'), isNotFound, /network nowhere not found/],
      [engine.connectNetwork('web', 'back'), isAlreadyExists, /endpoint with name web already exists in network back/],
      [engine.connectNetwork('web', 'bridge'), isAlreadyExists, /endpoint with name web already exists in network bridge/],
      [engine.connectNetwork('bb', 'back'), isAlreadyExists, /endpoint with name bb already exists in network back/],
      [engine.connectNetwork('hh', 'back'), isInvalidArgument, /container cannot be disconnected from host network or connected to host network/],
      [engine.connectNetwork('web', 'host'), isInvalidArgument, /connected to host network/],
      [engine.connectNetwork('nn', 'back'), isInvalidArgument, /private \(none\) mode/],
      [engine.connectNetwork('web', 'none'), isInvalidArgument, /private \(none\) mode/],
      [engine.connectNetwork('ss', 'back'), isInvalidArgument, /sharing network namespace with another container or host cannot be connected/],
      [engine.connectNetwork('web', 'front', { ip: '10.219.99.4' }), isInvalidArgument, /ip: 10\.219\.99\.4 is not a host address of network front's subnet 10\.219\.141\.0\/24/],
      [engine.connectNetwork('web', 'front', { ip: '10.219.141.255' }), isInvalidArgument, /not a host address/],
      [engine.connectNetwork('web', 'front', { ip: '10.219.141.1' }), isInvalidArgument, /gateway/],
      [engine.connectNetwork('web', 'front', { ip: '10.219.141' }), isInvalidArgument, /not an IPv4 address/],
      [engine.connectNetwork('nn', 'bridge', { ip: '172.30.0.9' }), isInvalidArgument, /private \(none\) mode/],
      [engine.connectNetwork('hh', 'front', { aliases: ['bad alias'] }), isInvalidArgument, /host network/],
      [engine.connectNetwork('web', 'front', { aliases: ['bad alias'] }), isInvalidArgument, /alias: "bad alias"/],
      [engine.disconnectNetwork('web', 'front'), isNotFound, /container web is not connected to network front/],
      [engine.disconnectNetwork('web', 'bridge'), isFailedPrecondition, /network bridge is the network container web was created on/],
      [engine.disconnectNetwork('hh', 'host'), isInvalidArgument, /host network/],
      [engine.disconnectNetwork('ghost', 'back'), isNotFound, /no such container: ghost/],
    ];
    for (const [p, kind, re] of cases) {
      const e = await rejection(p);
      expect(kind(e), String(e)).toBe(true);
      expect(String(e)).toMatch(re);
    }
    // A container on the default network: no aliases, no fixed address there.
    const other = await engine.create(req('other', { networkMode: 'front' }));
    for (const o of [{ ip: '172.30.0.9' }, { aliases: ['x'] }]) {
      const e = await rejection(engine.connectNetwork('other', 'bridge', o));
      expect(isInvalidArgument(e)).toBe(true);
      expect(String(e)).toMatch(/user defined networks/);
    }
    expect(engine.store.get(other.id).connections ?? []).toEqual([]);
    expect(snapshot().slice(1)).toEqual(before);
    expect([...ports.rec.live].filter((k) => !k.endsWith(other.id)).sort()).toEqual(liveBefore);
    expect(ports.rec.calls.filter((c) => c.startsWith('networks.connect') || c.startsWith('networks.disconnect'))).toEqual([]);
    void host; void none; void shared; void onBack;
  });

  it('--link: resolved to the linked container\'s name, kept, passed at every attach; refused on the default network or for an unknown container', async () => {
    await engine.create(req('db', { networkMode: 'back' }));
    const c = await engine.create(req('app'));
    const r = await engine.connectNetwork('app', 'back', { links: ['db:database', `${engine.store.find('db').id.slice(0, 12)}`] });
    expect(r.endpoint.links).toEqual(['db:database', 'db:db']);
    expect(engine.store.get(c.id).connections).toEqual([{ network: 'back', aliases: [], ip: '', links: ['db:database', 'db:db'] }]);
    const shown = (inspectContainer(engine.store.get(c.id)) as { NetworkSettings: { Networks: Record<string, { Links: string[] | null }> } }).NetworkSettings.Networks;
    expect(shown.back!.Links).toEqual(['db:database', 'db:db']);
    await engine.start('app');
    expect(engine.store.get(c.id).networkSettings.networks.back!.links).toEqual(['db:database', 'db:db']);

    await engine.create(req('other'));
    const ghost = await rejection(engine.connectNetwork('other', 'back', { links: ['ghost:g'] }));
    expect(isNotFound(ghost)).toBe(true);
    expect(String(ghost)).toContain('no such container: ghost');
    await engine.create(req('bb2', { networkMode: 'front' }));
    const onDefault = await rejection(engine.connectNetwork('bb2', 'bridge', { links: ['db:x'] }));
    expect(isInvalidArgument(onDefault)).toBe(true);
    expect(String(onDefault)).toMatch(/link: links are supported only for containers in user defined networks/);
    const badAlias = await rejection(engine.connectNetwork('other', 'back', { links: ['db:bad alias'] }));
    expect(isInvalidArgument(badAlias)).toBe(true);
    expect(engine.store.find('other').connections ?? []).toEqual([]);
    expect(engine.store.find('bb2').connections ?? []).toEqual([]);
  });

  it('a failure after the attach (hosts rewrite) undoes it: no interface, no record entry', async () => {
    const c = await engine.run(req('web'));
    ports.rec.failOn('networks.writeHostsFiles', new InternalError('disk full'));
    const e = await rejection(engine.connectNetwork('web', 'back'));
    expect(String(e)).toContain('disk full');
    expect(ports.rec.calls.filter((x) => x.startsWith('networks.disconnect'))).toEqual([`networks.disconnect ${c.id}`]);
    expect(ports.rec.live.has(`net ${c.id} back`)).toBe(false);
    expect(engine.store.get(c.id).connections).toEqual([]);
    expect(Object.keys(engine.store.get(c.id).networkSettings.networks)).toEqual(['bridge']);
  });
});
