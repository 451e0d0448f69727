// The engine module through its real gRPC server and client, alone: the
// other services are not running, so this covers what needs only the
// engine's own state (volumes, list, inspect, info, version, events
// validation) and that a dependency being down reaches the caller as a typed
// UNAVAILABLE with nothing left behind. service.e2e.test.ts runs the whole stack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServices, type RunningStack } from '@berth/daemon';
import { isFailedPrecondition, isInvalidArgument, isNotFound, isUnavailable, type BerthError, rejection } from '@berth/errors';
import { waitForEventsStream, startNatsServer, type NatsServerHandle } from '@berth/events';
import { createClient, tempPaths, type BerthClient, type TempPaths } from '@berth/kit';
import type { engineV1 } from '@berth/proto';
import { engineModule } from './service';

type Client = BerthClient<engineV1.EngineDefinition, engineV1.EngineHandlers>;



describe('engine service alone over gRPC', () => {
  let nats: NatsServerHandle;
  let paths: TempPaths;
  let stack: RunningStack;
  let client: Client;
  const savedNatsUrl = process.env['NATS_URL'];

  beforeAll(async () => {
    nats = await startNatsServer();
    process.env['NATS_URL'] = nats.url;
    paths = tempPaths();
    stack = await runServices([engineModule], { paths, natsUrl: nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }) });
    await waitForEventsStream(nats.url);
    client = createClient<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', [`unix:${stack.hosts[0]!.info.socket}`], { timeoutMs: 10_000 });
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await stack?.stop();
    await nats?.stop();
    paths?.cleanup();
    if (savedNatsUrl === undefined) delete process.env['NATS_URL'];
    else process.env['NATS_URL'] = savedNatsUrl;
  }, 30_000);

  it('answers Version and Info from its own state, reporting the services it cannot reach', async () => {
    const v = await client.Version({});
    expect(v).toMatchObject({ apiVersion: 'berth.engine.v1', version: '0.1.0', nodeVersion: process.version, os: 'linux' });
    const info = await client.Info({});
    expect(info).toMatchObject({ containers: 0, containersRunning: 0, volumes: 0, serverVersion: '0.1.0' });
    expect(info.stateDir).toBe(`${paths.root}/engine`);
    expect(info.schemaVersion).toBeGreaterThan(0);
    expect(info.servicesHealthy).toEqual({ images: false, layers: false, cgroups: false, namespaces: false, networks: false });
  });

  it('manages named volumes', async () => {
    const v = await client.CreateVolume({ name: 'bt-data', labels: { team: 'a' } });
    expect(v).toMatchObject({ name: 'bt-data', driver: 'local', anonymous: false, labels: { team: 'a' }, usedBy: [] });
    expect(v.mountpoint).toBe(`${paths.root}/engine/volumes/bt-data/_data`);
    const anon = await client.CreateVolume({});
    expect(anon.name).toMatch(/^[0-9a-f]{64}$/);
    expect((await client.ListVolumes({ filters: { label: { values: ['team=a'] } } })).volumes.map((x) => x.name)).toEqual(['bt-data']);
    expect(await client.InspectVolume({ name: 'bt-data' })).toMatchObject({ name: 'bt-data' });
    const bad = await rejection(client.CreateVolume({ name: 'x', driver: 'nfs' }));
    expect(isInvalidArgument(bad)).toBe(true);
    expect(bad.field).toBe('driver');
    const pruned = await client.PruneVolumes({});
    expect(pruned.deleted).toEqual([anon.name]);
    await client.RemoveVolume({ name: 'bt-data' });
    expect(isNotFound(await rejection(client.InspectVolume({ name: 'bt-data' })))).toBe(true);
    await client.RemoveVolume({ name: 'bt-data', force: true });
  });

  it('lists and inspects containers with typed errors', async () => {
    expect((await client.ListContainers({ all: true })).containers).toEqual([]);
    const badFilter = await rejection(client.ListContainers({ filters: { colour: { values: ['red'] } } }));
    expect(isInvalidArgument(badFilter)).toBe(true);
    expect(isNotFound(await rejection(client.InspectContainer({ id: 'nope' })))).toBe(true);
    expect(isNotFound(await rejection(client.StartContainer({ id: 'nope' })))).toBe(true);
    const noImage = await rejection(client.CreateContainer({ config: { image: '' } }));
    expect(isInvalidArgument(noImage)).toBe(true);
    expect(noImage.field).toBe('config.image');
  });

  it('passes a dependency being down through as UNAVAILABLE and leaves nothing behind', async () => {
    const err = await rejection(client.CreateContainer({ name: 'bt-web', config: { image: 'busybox', cmd: { values: ['true'] } } }));
    expect(isUnavailable(err)).toBe(true);
    expect(err.message).toMatch(/resolveImage/);
    expect((await client.ListContainers({ all: true })).containers).toEqual([]);
    expect(isNotFound(await rejection(client.InspectContainer({ id: 'bt-web' })))).toBe(true);
    // Commit of an unknown container is NotFound before any service is asked.
    expect(isNotFound(await rejection(client.Commit({ id: 'bt-web' })))).toBe(true);
    expect(isFailedPrecondition(err)).toBe(false);
  });

  it('validates Events filters and ends the stream at until', async () => {
    const bad = client.Events({ filters: { colour: { values: ['x'] } } });
    const err = await rejection((async () => { for await (const _ of bad) { /* none */ } })());
    expect(isInvalidArgument(err)).toBe(true);
    const now = Date.now() / 1000;
    const t0 = Date.now();
    const got: unknown[] = [];
    for await (const e of client.Events({ since: String(now - 60), until: String(now + 0.5) })) got.push(e);
    expect(got).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
