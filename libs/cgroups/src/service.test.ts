// The cgroups service through its real gRPC server and client, on the host's
// real cgroups (root), with a real nats-server for the OOM event. Everything
// lives under a berth-test-<random> parent that cleanup removes.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync } from 'node:fs';
import { runServices, type RunningStack } from '@berth/daemon';
import { isFailedPrecondition, isInvalidArgument, isNotFound, type BerthError, rejection } from '@berth/errors';
import { waitForEventsStream, startNatsServer, subjects, subscribeEvents, type NatsServerHandle, type CloudEvent } from '@berth/events';
import { createClient, tempPaths, checkPrometheusText, type BerthClient, type TempPaths } from '@berth/kit';
import type { cgroupsV1 } from '@berth/proto';
import { cgroupsModule } from './index';
import { Harness, go, until, exited } from './testing/harness';

type Client = BerthClient<cgroupsV1.CgroupsDefinition, cgroupsV1.CgroupsHandlers>;
const MiB = 1024 * 1024;



describe('cgroups service over gRPC', () => {
  let h: Harness;
  let nats: NatsServerHandle | undefined;
  let paths: TempPaths | undefined;
  let stack: RunningStack | undefined;
  let client: Client | undefined;
  const savedParent = process.env['BERTH_CGROUP_PARENT'];

  beforeEach(() => {
    h = new Harness();
    process.env['BERTH_CGROUP_PARENT'] = h.parent;
  });
  afterEach(async () => {
    client?.close();
    try {
      if (stack && nats) await waitForEventsStream(nats.url).catch(() => undefined);
      await stack?.stop();
    } finally {
      await nats?.stop();
      client = undefined;
      stack = undefined;
      nats = undefined;
      paths?.cleanup();
      if (savedParent === undefined) delete process.env['BERTH_CGROUP_PARENT'];
      else process.env['BERTH_CGROUP_PARENT'] = savedParent;
      await h.cleanup();
    }
  });

  const start = async () => {
    nats = await startNatsServer();
    paths = tempPaths();
    stack = await runServices([cgroupsModule], { paths, natsUrl: nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }), drainMs: 2000 });
    const info = stack.hosts[0]!.info;
    client = createClient<cgroupsV1.CgroupsDefinition, cgroupsV1.CgroupsHandlers>('berth.cgroups.v1.Cgroups', [`unix:${info.socket}`], { timeoutMs: 20_000 });
    return { client, metricsUrl: info.metricsUrl! };
  };

  it('creates with limits, moves a process in, reads stats, updates, kills, exports metrics and deletes', async () => {
    const { client: c, metricsUrl } = await start();
    const created = await c.Create({
      id: 'svc1',
      resources: { memory: { limit: 64 * MiB }, pids: { limit: 50 }, cpu: { shares: 512 } },
      name: 'web',
      image: 'busybox:latest',
      labels: { 'io.kubernetes.pod.name': 'p1' },
    });
    expect(created).toMatchObject({ id: 'svc1', path: `${h.parent}/svc1`, parent: h.parent, name: 'web', image: 'busybox:latest' });
    expect(created.resources?.memory?.limit).toBe(64 * MiB);
    expect(created.resources?.cpu?.shares).toBe(512);
    // Unset optional fields stay unset over the wire (not 0).
    expect(created.resources?.cpu?.quota).toBeUndefined();
    expect(created.resources?.memory?.swap).toBeUndefined();

    const child = h.spawn('read go && exec sleep 1000');
    await c.AddProcess({ id: 'svc1', pid: child.pid! });
    go(child);
    expect((await c.ListProcesses({ id: 'svc1' })).pids).toEqual([child.pid]);

    const stats = await c.Stats({ id: 'svc1' });
    expect(stats.id).toBe('svc1');
    expect(stats.processes).toBe(1);
    expect(stats.memory?.limit).toBe(64 * MiB);
    expect(stats.memory?.usage).toBeGreaterThan(0);
    expect(stats.pids).toMatchObject({ current: 1, limit: 50 });
    expect(stats.limits).toMatchObject({ memoryLimit: 64 * MiB, cpuShares: 512 });

    // Update: only the memory limit is sent; pids and cpu keep their values.
    const updated = await c.Update({ id: 'svc1', resources: { memory: { limit: 128 * MiB } } });
    expect(updated.resources?.memory?.limit).toBe(128 * MiB);
    expect(updated.resources?.pids?.limit).toBe(50);
    expect(updated.resources?.cpu?.shares).toBe(512);
    expect((await c.Stats({ id: 'svc1' })).limits?.memoryLimit).toBe(128 * MiB);
    expect((await c.Get({ id: 'svc1' })).resources?.memory?.limit).toBe(128 * MiB);
    expect((await c.List({})).cgroups.map((g) => g.id)).toEqual(['svc1']);

    const text = await (await fetch(metricsUrl)).text();
    const usage = text.split('\n').find((l) => l.startsWith('container_memory_usage_bytes{') && l.includes(`id="/${h.parent}/svc1"`));
    expect(usage).toBeDefined();
    expect(usage).toContain('name="web"');
    expect(usage).toContain('image="busybox:latest"');
    expect(Number(usage!.split(' ').pop())).toBeGreaterThan(0);
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Create"[^}]*grpc_code="OK"[^}]*\} 1/);
    expect(() => checkPrometheusText(text)).not.toThrow();
    // A rename (Update with a name, no resources) moves the name label; the limits stay.
    expect(await c.Update({ id: 'svc1', name: 'web2' })).toMatchObject({ name: 'web2', image: 'busybox:latest' });
    expect((await c.Get({ id: 'svc1' })).resources?.memory?.limit).toBe(128 * MiB);
    const renamed = (await (await fetch(metricsUrl)).text()).split('\n').find((l) => l.startsWith('container_memory_usage_bytes{') && l.includes(`id="/${h.parent}/svc1"`));
    expect(renamed).toContain('name="web2"');

    // Delete refuses while the process lives; KillAll with a signal name empties it.
    expect(isFailedPrecondition(await rejection(c.Delete({ id: 'svc1' })))).toBe(true);
    await c.KillAll({ id: 'svc1', signal: 'SIGTERM', timeoutMs: 5000 });
    expect((await exited(child)).signal).toBe('SIGTERM');
    expect((await c.ListProcesses({ id: 'svc1' })).pids).toEqual([]);
    await c.Delete({ id: 'svc1' });
    expect((await c.List({})).cgroups).toEqual([]);
    for (const d of h.parentDirs()) expect(existsSync(`${d}/svc1`)).toBe(false);
    const gone = await rejection(c.Get({ id: 'svc1' }));
    expect(isNotFound(gone)).toBe(true);
  });

  it('returns typed InvalidArgument errors naming the field', async () => {
    const { client: c } = await start();
    const badId = await rejection(c.Create({ id: '../escape' }));
    expect(isInvalidArgument(badId)).toBe(true);
    expect(badId.field).toBe('id');
    expect(badId.message).toContain('../escape');

    const tooSmall = await rejection(c.Create({ id: 'small', resources: { memory: { limit: 1024 } } }));
    expect(isInvalidArgument(tooSmall)).toBe(true);
    expect(tooSmall.field).toBe('memory.limit');
    // Nothing stayed behind from the refused create.
    for (const d of h.parentDirs()) expect(existsSync(`${d}/small`)).toBe(false);

    const badSignal = await c.Create({ id: 'sig' }).then(() => rejection(c.KillAll({ id: 'sig', signal: 'SIGNOPE' })));
    expect(isInvalidArgument(badSignal)).toBe(true);
    expect(badSignal.field).toBe('signal');
    await c.Delete({ id: 'sig' });
  });

  it('publishes an OOM kill on NATS as an OomEvent', async () => {
    const { client: c } = await start();
    const since = new Date(Date.now() - 1000);
    await c.Create({ id: 'hog', resources: { memory: { limit: 32 * MiB } } });
    const hog = h.spawn(`read go && exec python3 -c "
a = []
while True:
    a.append(bytearray(1 << 20))
"`);
    await c.AddProcess({ id: 'hog', pid: hog.pid! });
    go(hog);
    expect((await exited(hog)).signal).toBe('SIGKILL');

    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    let event: CloudEvent | undefined;
    try {
      for await (const ev of subscribeEvents({ servers: nats!.url, since, filter: subjects.cgroupsOom, signal: abort.signal })) {
        event = ev;
        break;
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    expect(event).toBeDefined();
    expect(event!.subject).toBe('hog');
    const data = event!.data as { containerId: string; cgroupPath: string; count: number };
    expect(data.containerId).toBe('hog');
    expect(data.cgroupPath).toBe(`${h.parent}/hog`);
    expect(data.count).toBeGreaterThanOrEqual(1);
    await until(async () => (await c.Stats({ id: 'hog' })).oomKills >= 1, 5000, 'the OOM count in Stats');
    await c.Delete({ id: 'hog', force: true });
  });
});
