// --userns auto end to end: the engine composed with the five services it
// drives, all in this process through their real gRPC servers (the stack of
// service.e2e.test.ts, with this file's own bridge, subnet, chains and cgroup
// parent). Root in the container is a host uid from the container's own range,
// two containers get disjoint ranges, the container's files are stored as
// container ids (the layers diff says uid 0), and remove frees the range.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupsModule, removeCgroupParent } from '@berth/cgroups';
import { runServices, type RunningStack } from '@berth/daemon';
import { waitForEventsStream, startNatsServer, type NatsServerHandle } from '@berth/events';
import { imagesModule } from '@berth/images';
import { createClient, socketPath, tempPaths, type ServiceModule, type TempPaths } from '@berth/kit';
import { layersModule } from '@berth/layers';
import { namespacesModule } from '@berth/namespaces';
import { NetworkManager, networksModule, networksOptions } from '@berth/networks';
import { isNotFound } from '@berth/errors';
import type { engineV1, imagesV1, layersV1 } from '@berth/proto';
import { engineModule } from './service';
import { allocateIdMapping, DEFAULT_POOL, formatIdRanges, loadIdPool, passwdUid, RANGE_SIZE } from './userns';

const ENV_KEYS = ['BERTH_CGROUP_PARENT', 'BERTH_DEFAULT_BRIDGE', 'BERTH_DEFAULT_SUBNET', 'BERTH_BRIDGE_PREFIX', 'BERTH_CHAIN_PREFIX', 'BERTH_DNS_UPSTREAMS', 'NATS_URL'] as const;

/** Starts `modules` with the test's own env, state and NATS; stop() undoes all of it. */
function useStack(modules: () => Promise<ServiceModule[]>) {
  const tag = randomBytes(3).toString('hex');
  const saved: Partial<Record<(typeof ENV_KEYS)[number], string | undefined>> = {};
  const s = { tag, paths: undefined as unknown as TempPaths, nats: undefined as NatsServerHandle | undefined, stack: undefined as RunningStack | undefined };
  beforeAll(async () => {
    for (const k of ENV_KEYS) saved[k] = process.env[k];
    process.env['BERTH_CGROUP_PARENT'] = `berth-test-${tag}`;
    process.env['BERTH_DEFAULT_BRIDGE'] = `bt-u${tag}`;
    process.env['BERTH_DEFAULT_SUBNET'] = `10.219.${145 + (parseInt(tag, 16) % 5)}.0/24`;
    process.env['BERTH_BRIDGE_PREFIX'] = `btu${tag.slice(0, 4)}-`;
    process.env['BERTH_CHAIN_PREFIX'] = `BERTH-U${tag}`;
    process.env['BERTH_DNS_UPSTREAMS'] = '127.0.0.1:9';
    s.nats = await startNatsServer();
    process.env['NATS_URL'] = s.nats.url;
    // The run dir is short: the namespaces service's monitor keeps a unix
    // socket in <run>/namespaces/<64-hex id>/ (that dir at most 95 bytes).
    const root = tempPaths();
    const run = mkdtempSync(join(tmpdir(), 'berth-'));
    s.paths = { root: root.root, run, cleanup: () => { root.cleanup(); rmSync(run, { recursive: true, force: true }); } };
    // The container's root is an unprivileged host uid: the shim binds the
    // rootfs and the engine's files as it, so the state dirs must be
    // searchable by others (docs/design/engine.md, User namespaces).
    chmodSync(dirname(root.root), 0o711);
    mkdirSync(root.root, { recursive: true, mode: 0o711 });
    chmodSync(run, 0o711);
    s.stack = await runServices(await modules(), { paths: s.paths, natsUrl: s.nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }) });
    await waitForEventsStream(s.nats.url);
  }, 60_000);
  afterAll(async () => {
    try {
      // Containers a failed test left behind hold layer mounts: remove them while the services run.
      if (s.stack) {
        const engine = createClient<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', [`unix:${socketPath('engine', s.paths)}`], { timeoutMs: 5000 });
        try {
          for (const c of (await engine.ListContainers({ all: true }).catch(() => ({ containers: [] }))).containers) await engine.RemoveContainer({ id: c.id, force: true, removeVolumes: true }).catch(() => undefined);
        } finally {
          engine.close();
        }
      }
      // And writable roots no engine removed (the engine was down): unmount and drop them.
      if (s.stack) {
        const layers = createClient<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', [`unix:${socketPath('layers', s.paths)}`], { timeoutMs: 5000 });
        try {
          for (const snap of (await layers.List({}).catch(() => ({ snapshots: [] }))).snapshots) {
            if (snap.kind !== 'SNAPSHOT_KIND_ACTIVE') continue;
            await layers.Unmount({ key: snap.key }).catch(() => undefined);
            await layers.Remove({ key: snap.key }).catch(() => undefined);
          }
        } finally {
          layers.close();
        }
      }
      await s.stack?.stop();
      if (s.paths) {
        const m = new NetworkManager(networksOptions(s.paths));
        await m.start();
        await m.purge();
        await m.close();
      }
    } finally {
      removeCgroupParent(`berth-test-${tag}`);
      for (const k of ENV_KEYS) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await s.nats?.stop();
      s.paths?.cleanup();
    }
  }, 60_000);
  /** busybox:latest, which the images service makes from the host's busybox-static at start. */
  const busybox = async (): Promise<imagesV1.Image__Output> => {
    const images = client<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', 'images');
    try {
      for (let deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
        try {
          return await images.Get({ reference: 'busybox:latest' });
        } catch (e) {
          if (!isNotFound(e) || Date.now() > deadline) throw e;
        }
      }
    } finally {
      images.close();
    }
  };
  const client = <D, H>(service: string, name: string) => createClient<D, H>(service, [`unix:${socketPath(name, s.paths)}`], { timeoutMs: 60_000 });
  return { s, client, busybox };
}

describe('--userns auto through the engine over gRPC', () => {
  const { s, client, busybox } = useStack(async () => [layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule, engineModule]);

  interface Inspected { State: { Pid: number }; HostConfig: { UsernsMode: string; IDMappings?: { UidMap: string[]; GidMap: string[] } } }
  const hostUidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

  it('runs root as the first id of its own range, keeps ranges disjoint, stores files unshifted, frees the range on remove', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    const layers = client<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', 'layers');
    try {
      await busybox();
      // Prints its uid and map, writes into its root and its hosts file, then waits to be looked at.
      const script = 'id -u; cat /proc/self/uid_map; echo made > /created; echo "10.9.9.9 userns-test" >> /etc/hosts && echo hosts-ok; ls -ln /bin/busybox; exec sleep 120';
      const run = (n: string) => engine.RunContainer({
        create: { name: `bt-u${n}-${s.tag}`, config: { image: 'busybox:latest', cmd: { values: ['sh', '-c', script] } }, hostConfig: { networkMode: 'none', usernsMode: 'auto' }, pull: 'never' },
      });
      const logsOf = async (id: string): Promise<string[]> => {
        for (let deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
          const lines: string[] = [];
          for await (const e of engine.Logs({ id }) as AsyncIterable<engineV1.LogEntry__Output>) lines.push(e.line.toString().trim());
          if (lines.some((l) => l.startsWith('-')) || Date.now() > deadline) return lines;
        }
      };
      const a = await run('a');
      const b = await run('b');
      const ia = JSON.parse((await engine.InspectContainer({ id: a.id })).json) as Inspected;
      const ib = JSON.parse((await engine.InspectContainer({ id: b.id })).json) as Inspected;
      expect(ia.HostConfig.UsernsMode).toBe('auto');
      const startOf = (i: Inspected): number => Number(i.HostConfig.IDMappings?.UidMap[0]?.split(':')[1]);
      const ha = startOf(ia);
      const hb = startOf(ib);
      // The pool's first two slots (the default pool unless /etc/subuid+subgid name berth or containers).
      const pool = loadIdPool({ uidOf: (n) => passwdUid(n) });
      const [first, second] = [allocateIdMapping(pool, []), allocateIdMapping(pool, [allocateIdMapping(pool, [])])];
      expect(ia.HostConfig.IDMappings).toEqual({ UidMap: formatIdRanges(first.uidMappings), GidMap: formatIdRanges(first.gidMappings) });
      expect(ib.HostConfig.IDMappings).toEqual({ UidMap: formatIdRanges(second.uidMappings), GidMap: formatIdRanges(second.gidMappings) });
      if (pool.owner === 'default') expect(ha).toBe(DEFAULT_POOL.hostId);
      expect(Math.abs(ha - hb)).toBeGreaterThanOrEqual(RANGE_SIZE);

      const la = await logsOf(a.id);
      // Root inside, the container's first host id outside.
      expect(la[0]).toBe('0');
      expect(la[1]?.split(/\s+/)).toEqual(['0', String(ha), String(RANGE_SIZE)]);
      expect(la).toContain('hosts-ok');
      // Image files (stored as uid 0) show as root inside: the rootfs is idmapped, not chowned.
      expect(la.find((l) => l.startsWith('-'))).toMatch(/^-\S+\s+\d+\s+0\s+0\s/);
      expect(hostUidOf(ia.State.Pid)).toBe(ha);
      expect(hostUidOf(ib.State.Pid)).toBe(hb);
      // One mount per root: the idmapped helper mounts under the overlay were detached.
      const layerMounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`${s.paths.root}/layers/`));
      expect(layerMounts.length).toBe(2);

      // What root wrote is root's (uid 0) in the writable layer's diff, as without a user namespace.
      const chunks: Buffer[] = [];
      for await (const m of layers.Diff({ key: a.id, gzip: false }) as AsyncIterable<layersV1.DiffResponse__Output>) if (m.data) chunks.push(m.data);
      const owners = new Map<string, [number, number]>();
      const ex = tarStream.extract();
      ex.on('entry', (h, stream, next) => { owners.set(h.name, [h.uid ?? -1, h.gid ?? -1]); stream.on('end', next); stream.resume(); });
      await new Promise<void>((resolve, reject) => { ex.on('finish', resolve); ex.on('error', reject); ex.end(Buffer.concat(chunks)); });
      expect(owners.get('created')).toEqual([0, 0]);

      // Remove frees a's range: the next container gets it again.
      await engine.RemoveContainer({ id: a.id, force: true });
      const c = await run('c');
      const ic = JSON.parse((await engine.InspectContainer({ id: c.id })).json) as Inspected;
      expect(startOf(ic)).toBe(ha);
      await engine.RemoveContainer({ id: b.id, force: true });
      await engine.RemoveContainer({ id: c.id, force: true });
      // Nothing of theirs stays mounted: neither the roots nor the idmapped helper mounts.
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`${s.paths.root}/layers/`);
    } finally {
      engine.close();
      layers.close();
    }
  }, 120_000);

  it('on the default bridge with a new volume: networking, hosts and the volume work for the mapped root', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    try {
      await busybox();
      const run = await engine.RunContainer({
        create: {
          name: `bt-unet-${s.tag}`,
          config: { image: 'busybox:latest', cmd: { values: ['sh', '-c', 'ip -4 -o addr show eth0 | grep -q inet && echo net-ok; grep -q "$(hostname)" /etc/hosts && echo hosts-ok; echo v > /data/f && ls -ln /data/f'] } },
          hostConfig: { usernsMode: 'auto', mounts: [{ type: 'volume', source: `bt-uvol-${s.tag}`, target: '/data' }] },
          pull: 'never',
        },
      });
      expect((await engine.WaitContainer({ id: run.id, condition: 'not-running' })).exitCode).toBe(0);
      const lines: string[] = [];
      for await (const e of engine.Logs({ id: run.id }) as AsyncIterable<engineV1.LogEntry__Output>) lines.push(e.line.toString().trim());
      expect(lines.slice(0, 2)).toEqual(['net-ok', 'hosts-ok']);
      // The new volume belongs to the container's root: its file is root's inside.
      expect(lines[2]).toMatch(/^-\S+\s+\d+\s+0\s+0\s/);
      await engine.RemoveContainer({ id: run.id, removeVolumes: true });
      await engine.RemoveVolume({ name: `bt-uvol-${s.tag}`, force: true }).catch(() => undefined);
    } finally {
      engine.close();
    }
  }, 60_000);

  it('concurrent creates get distinct ranges', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    try {
      await busybox();
      const created = await Promise.all([0, 1, 2, 3, 4].map((i) => engine.CreateContainer({
        name: `bt-uc${i}-${s.tag}`, config: { image: 'busybox:latest', cmd: { values: ['true'] } }, hostConfig: { networkMode: 'none', usernsMode: 'auto' }, pull: 'never',
      })));
      const starts = await Promise.all(created.map(async (c) => {
        const i = JSON.parse((await engine.InspectContainer({ id: c.id })).json) as Inspected;
        return i.HostConfig.IDMappings?.UidMap[0] ?? '';
      }));
      expect(starts.every((m) => /^0:\d+:65536$/.test(m))).toBe(true);
      expect(new Set(starts).size).toBe(5);
      for (const c of created) await engine.RemoveContainer({ id: c.id, force: true });
    } finally {
      engine.close();
    }
  }, 60_000);

  it('refuses an unknown userns mode, naming the field, and leaves no container', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    try {
      await busybox();
      const before = (await engine.ListContainers({ all: true })).containers.length;
      const e = await engine.CreateContainer({ config: { image: 'busybox:latest', cmd: { values: ['true'] } }, hostConfig: { usernsMode: 'bogus' }, pull: 'never' }).catch((x: unknown) => x);
      expect((e as { field?: string }).field).toBe('host_config.userns_mode');
      expect((e as Error).message).toMatch(/bogus/);
      expect((await engine.ListContainers({ all: true })).containers.length).toBe(before);
    } finally {
      engine.close();
    }
  }, 60_000);
});
