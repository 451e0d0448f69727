// --userns auto end to end: the engine composed with the five services it
// drives, all in this process through their real gRPC servers
// (testing/e2e-stack.test-support.ts, with this file's own bridge, subnet,
// chains and cgroup parent). Root in the container is a host uid from the container's own range,
// two containers get disjoint ranges, the container's files are stored as
// container ids (the layers diff says uid 0), and remove frees the range.
import { readFileSync } from 'node:fs';
import tarStream from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { cgroupsModule } from '@berth/cgroups';
import { imagesModule } from '@berth/images';
import { layersModule } from '@berth/layers';
import { namespacesModule } from '@berth/namespaces';
import { networksModule } from '@berth/networks';
import type { engineV1, layersV1 } from '@berth/proto';
import { engineModule } from './service';
import { useE2eStack } from './testing/e2e-stack.test-support';
import { allocateIdMapping, DEFAULT_POOL, formatIdRanges, loadIdPool, passwdUid, RANGE_SIZE } from './userns';



describe('--userns auto through the engine over gRPC', () => {
  const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule, engineModule], { letter: 'u', subnets: [145, 146, 147, 148, 149], searchableState: true });
  const { client, busybox } = s;

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
