// docker network connect / disconnect end to end: the engine and the five
// services in this process over their real gRPC servers, busybox containers on
// two user-defined networks. A container connected to the other network gets
// eth1 with an address there, reaches and resolves the other container by
// name (embedded DNS) and is resolved by its name and alias; disconnect takes
// all of that away; a connection made before start is attached at start and
// again after a restart; refused requests leave no veth and no address.
// Names are this file's own (testing/e2e-stack.test-support.ts): cgroups under
// berth-test-<rand>, bridges btn*, chains BERTH-N*, subnets 10.219.140-144.0/24
// (purged in afterAll).
import { randomBytes } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupsModule } from '@berth/cgroups';
import { runServices, type RunningStack } from '@berth/daemon';
import { imagesModule } from '@berth/images';
import type { BerthClient, TempPaths } from '@berth/kit';
import { layersModule } from '@berth/layers';
import { namespacesModule } from '@berth/namespaces';
import { networksModule } from '@berth/networks';
import { isAlreadyExists, isInvalidArgument, isNotFound, rejection } from '@berth/errors';
import type { engineV1, networksV1 } from '@berth/proto';
import { engineModule } from './service';
import { useE2eStack } from './testing/e2e-stack.test-support';

type EngineClient = BerthClient<engineV1.EngineDefinition, engineV1.EngineHandlers>;

/**
 * Runs a busybox applet inside a container's network and mount namespaces (so its
 * /etc/hosts and /etc/resolv.conf apply) with nsenter from the host, by the
 * container's pid from inspect: combined output and exit status. From the
 * host rather than through the engine's Exec, so what is tested here is the
 * network alone.
 */
async function inCtr(engine: EngineClient, id: string, args: string[]): Promise<{ code: number; out: string }> {
  const pid = (JSON.parse((await engine.InspectContainer({ id })).json) as { State: { Pid: number } }).State.Pid;
  if (!pid) throw new Error(`container ${id} has no pid: not running`);
  return new Promise((resolve) => {
    execFile('nsenter', ['-t', String(pid), '-n', '-m', '--', '/bin/busybox', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

interface InspectNetworks { NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null; IPAMConfig: { IPv4Address: string } | null }> } }

async function networksOf(engine: EngineClient, id: string): Promise<InspectNetworks['NetworkSettings']['Networks']> {
  return (JSON.parse((await engine.InspectContainer({ id })).json) as InspectNetworks).NetworkSettings.Networks;
}

/** Host veths enslaved to `bridge`. */
function veths(bridge: string): string[] {
  const out = execFileSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' });
  return [...out.matchAll(/^\d+:\s+([^@:\s]+)/gm)].map((m) => m[1]!);
}

/** Addresses claimed in the networks service's IPAM dir for `network`. */
function claimed(paths: TempPaths, network: string): string[] {
  try {
    return readdirSync(join(paths.root, 'networks', 'ipam', network)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort();
  } catch {
    return [];
  }
}

const tag = randomBytes(3).toString('hex');

describe('network connect / disconnect through the engine, every service over gRPC', () => {
  const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule, engineModule], {
    letter: 'n', subnets: [140, 144],
  });

  it('connects a running container to a second network (eth1, names both ways), refuses bad requests leaving nothing, disconnects', async () => {
    const engine = s.client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    const nets = s.client<networksV1.NetworksDefinition, networksV1.NetworksHandlers>('berth.networks.v1.Networks', 'networks');
    const front = `bt-front-${tag}`;
    const back = `bt-back-${tag}`;
    try {
      await s.busybox();
      const fn = await nets.CreateNetwork({ name: front, subnet: '10.219.141.0/24' });
      const bn = await nets.CreateNetwork({ name: back, subnet: '10.219.142.0/24' });
      const a = `bt-a-${tag}`;
      const b = `bt-b-${tag}`;
      const ra = await engine.RunContainer({ create: { name: a, config: { image: 'busybox:latest', cmd: { values: ['sleep', '120'] } }, hostConfig: { networkMode: front }, pull: 'never' } });
      const rb = await engine.RunContainer({ create: { name: b, config: { image: 'busybox:latest', cmd: { values: ['sleep', '120'] } }, hostConfig: { networkMode: back }, pull: 'never' } });
      const bIp = (await networksOf(engine, rb.id))[back]!.IPAddress;
      expect(bIp).toMatch(/^10\.219\.142\./);
      // Before: a neither resolves nor reaches b.
      expect((await inCtr(engine, ra.id, ['ping', '-c1', '-W1', b])).code).not.toBe(0);
      expect((await inCtr(engine, ra.id, ['ping', '-c1', '-W1', bIp])).code).not.toBe(0);

      const t0 = performance.now();
      const con = await engine.ConnectNetwork({ container: a, network: back, aliases: ['edge'], ip: '10.219.142.50', links: [`${b}:store`] });
      const connectMs = performance.now() - t0;
      console.log(`ConnectNetwork of a running container: ${connectMs.toFixed(1)} ms`);
      expect(con.endpoint).toMatchObject({ network: back, ipAddress: '10.219.142.50', ipPrefixLen: 24, gateway: bn.gateway, aliases: ['edge'], links: [`${b}:store`] });
      const addrs = (await inCtr(engine, ra.id, ['ip', '-o', '-4', 'addr', 'show'])).out;
      expect(addrs).toMatch(/eth0\s+inet 10\.219\.141\.\d+\/24/);
      expect(addrs).toMatch(/eth1\s+inet 10\.219\.142\.50\/24/);
      // Over eth1, by name (a's resolver answers for all of a's networks).
      const ping = await inCtr(engine, ra.id, ['ping', '-c1', '-W2', b]);
      expect(ping.out).toContain(bIp);
      expect(ping.code).toBe(0);
      // The --link alias resolves for a only.
      expect((await inCtr(engine, ra.id, ['nslookup', 'store'])).out).toContain(bIp);
      expect((await inCtr(engine, rb.id, ['nslookup', 'store'])).out).not.toContain(bIp);
      // b resolves a by name and alias on back, to the fixed address.
      expect((await inCtr(engine, rb.id, ['nslookup', 'edge'])).out).toContain('10.219.142.50');
      expect((await inCtr(engine, rb.id, ['ping', '-c1', '-W2', a])).code).toBe(0);
      // a's /etc/hosts names the new address; inspect shows both networks.
      expect((await inCtr(engine, ra.id, ['cat', '/etc/hosts'])).out).toContain('10.219.142.50');
      const shown = await networksOf(engine, ra.id);
      expect(Object.keys(shown).sort()).toEqual([back, front]);
      expect(shown[back]).toMatchObject({ IPAddress: '10.219.142.50', IPAMConfig: { IPv4Address: '10.219.142.50' }, Aliases: ['edge'] });
      expect((await nets.InspectNetwork({ name: back })).containers.map((c) => c.name).sort()).toEqual([a, b]);

      // Refused, and nothing of them stays on back: no veth, no address.
      const before = { veths: veths(bn.bridge).sort(), ips: claimed(s.paths, back) };
      expect(before.veths).toHaveLength(2);
      expect(before.ips).toEqual([bIp, '10.219.142.50'].sort());
      const none = await engine.RunContainer({ create: { name: `bt-none-${tag}`, config: { image: 'busybox:latest', cmd: { values: ['sleep', '120'] } }, hostConfig: { networkMode: 'none' }, pull: 'never' } });
      const c = await engine.RunContainer({ create: { name: `bt-c-${tag}`, config: { image: 'busybox:latest', cmd: { values: ['sleep', '120'] } }, hostConfig: { networkMode: front }, pull: 'never' } });
      const refused: [() => Promise<unknown>, (e: unknown) => boolean, RegExp][] = [
        [() => engine.ConnectNetwork({ container: a, network: back }), isAlreadyExists, new RegExp(`endpoint with name ${a} already exists in network ${back}`)],
        [() => engine.ConnectNetwork({ container: a, network: `bt-nowhere-${tag}` }), isNotFound, new RegExp(`network bt-nowhere-${tag} not found`)],
        [() => engine.ConnectNetwork({ container: `bt-ghost-${tag}`, network: back }), isNotFound, new RegExp(`no such container: bt-ghost-${tag}`)],
        [() => engine.ConnectNetwork({ container: c.id, network: back, ip: '10.219.143.9' }), isInvalidArgument, /ip: 10\.219\.143\.9 is not a host address of network .* subnet 10\.219\.142\.0\/24/],
        [() => engine.ConnectNetwork({ container: c.id, network: back, ip: '10.219.142.50' }), isAlreadyExists, /10\.219\.142\.50 is already in use/],
        [() => engine.ConnectNetwork({ container: none.id, network: back }), isInvalidArgument, /private \(none\) mode/],
        [() => engine.ConnectNetwork({ container: c.id, network: 'host' }), isInvalidArgument, /host network/],
        [() => engine.DisconnectNetwork({ container: c.id, network: back }), isNotFound, new RegExp(`container bt-c-${tag} is not connected to network ${back}`)],
      ];
      for (const [call, kind, re] of refused) {
        const e = await rejection(call());
        expect(kind(e), String(e)).toBe(true);
        expect(String(e)).toMatch(re);
      }
      expect(veths(bn.bridge).sort()).toEqual(before.veths);
      expect(claimed(s.paths, back)).toEqual(before.ips);
      expect((await inCtr(engine, c.id, ['ip', '-o', 'link', 'show'])).out).not.toContain('eth1');
      expect((await engine.InspectContainer({ id: c.id })).json).not.toContain(back);

      // Disconnect: eth1, its address and the names go; eth0 stays.
      await engine.DisconnectNetwork({ container: a, network: back });
      expect((await inCtr(engine, ra.id, ['ip', '-o', 'link', 'show'])).out).not.toContain('eth1');
      expect((await inCtr(engine, ra.id, ['ping', '-c1', '-W1', bIp])).code).not.toBe(0);
      expect((await inCtr(engine, ra.id, ['ping', '-c1', '-W1', b])).code).not.toBe(0);
      expect((await inCtr(engine, rb.id, ['nslookup', 'edge'])).out).not.toContain('10.219.142.50');
      expect((await inCtr(engine, ra.id, ['ping', '-c1', '-W2', fn.gateway])).code).toBe(0);
      expect((await inCtr(engine, ra.id, ['cat', '/etc/hosts'])).out).not.toContain('10.219.142.50');
      expect(Object.keys(await networksOf(engine, ra.id))).toEqual([front]);
      expect(veths(bn.bridge)).toHaveLength(1);
      expect(claimed(s.paths, back)).toEqual([bIp]);

      for (const id of [ra.id, rb.id, none.id, c.id]) await engine.RemoveContainer({ id, force: true });
      await nets.RemoveNetwork({ name: front });
      await nets.RemoveNetwork({ name: back });
    } finally {
      engine.close();
      nets.close();
    }
  }, 180_000);

  it('a connection made before start is attached at start, after a restart, and when the restart policy starts it again', async () => {
    const engine = s.client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    const nets = s.client<networksV1.NetworksDefinition, networksV1.NetworksHandlers>('berth.networks.v1.Networks', 'networks');
    const side = `bt-side-${tag}`;
    try {
      await s.busybox();
      await nets.CreateNetwork({ name: side, subnet: '10.219.143.0/24' });
      const peer = await engine.RunContainer({ create: { name: `bt-peer-${tag}`, config: { image: 'busybox:latest', cmd: { values: ['sleep', '120'] } }, hostConfig: { networkMode: side }, pull: 'never' } });
      const late = await engine.CreateContainer({ name: `bt-late-${tag}`, config: { image: 'busybox:latest', cmd: { values: ['sleep', '120'] } }, pull: 'never' });
      const con = await engine.ConnectNetwork({ container: `bt-late-${tag}`, network: side, aliases: ['later'] });
      expect(con.endpoint).toMatchObject({ network: side, ipAddress: '' });
      expect((await networksOf(engine, late.id))[side]).toMatchObject({ IPAddress: '', Aliases: ['later'] });
      expect((await nets.InspectNetwork({ name: side })).containers.map((c) => c.name)).toEqual([`bt-peer-${tag}`]);

      await engine.StartContainer({ id: late.id });
      const check = async () => {
        const ip = (await networksOf(engine, late.id))[side]!.IPAddress;
        expect(ip).toMatch(/^10\.219\.143\./);
        expect((await inCtr(engine, late.id, ['ip', '-o', '-4', 'addr', 'show', 'eth1'])).out).toContain(`inet ${ip}/24`);
        // The default bridge (whichever free subnet the stack took) stays eth0 with the default route.
        const defaultGateway = s.names.defaultSubnet.replace(/\.0\/24$/, '.1');
        expect((await inCtr(engine, late.id, ['ip', 'route'])).out).toContain(`default via ${defaultGateway} dev eth0`);
        expect((await inCtr(engine, late.id, ['ping', '-c1', '-W2', `bt-peer-${tag}`])).code).toBe(0);
        expect((await inCtr(engine, peer.id, ['nslookup', 'later'])).out).toContain(ip);
      };
      await check();
      await engine.RestartContainer({ id: late.id, timeoutSeconds: 1 });
      await check();
      // Stopped: the service has let go of it, the record keeps the connection.
      await engine.StopContainer({ id: late.id, timeoutSeconds: 1 });
      expect((await nets.InspectNetwork({ name: side })).containers.map((c) => c.name)).toEqual([`bt-peer-${tag}`]);
      expect(Object.keys(await networksOf(engine, late.id)).sort()).toEqual(['bridge', side].sort());
      // Disconnecting a stopped container only drops the record entry; the next start has no eth1.
      await engine.DisconnectNetwork({ container: late.id, network: side });
      await engine.StartContainer({ id: late.id });
      expect((await inCtr(engine, late.id, ['ip', '-o', 'link', 'show'])).out).not.toContain('eth1');

      // The restart policy brings a connected container back on both networks.
      const flaky = await engine.RunContainer({
        create: {
          name: `bt-flaky-${tag}`, config: { image: 'busybox:latest', cmd: { values: ['sh', '-c', 'sleep 3; exit 1'] } },
          hostConfig: { restartPolicy: { name: 'on-failure', maximumRetryCount: 3 } }, pull: 'never',
        },
      });
      await engine.ConnectNetwork({ container: flaky.id, network: side });
      const pid0 = (JSON.parse((await engine.InspectContainer({ id: flaky.id })).json) as { State: { Pid: number } }).State.Pid;
      let restarted = false;
      for (let deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
        const st = JSON.parse((await engine.InspectContainer({ id: flaky.id })).json) as { RestartCount: number; State: { Pid: number; Running: boolean } };
        if (st.RestartCount >= 1 && st.State.Running && st.State.Pid !== pid0) { restarted = true; break; }
      }
      expect(restarted).toBe(true);
      const fip = (await networksOf(engine, flaky.id))[side]!.IPAddress;
      expect(fip).toMatch(/^10\.219\.143\./);
      expect((await inCtr(engine, flaky.id, ['ip', '-o', '-4', 'addr', 'show', 'eth1'])).out).toContain(`inet ${fip}/24`);

      for (const id of [late.id, peer.id, flaky.id]) await engine.RemoveContainer({ id, force: true });
      await nets.RemoveNetwork({ name: side });
    } finally {
      engine.close();
      nets.close();
    }
  }, 180_000);
});

const tag2 = randomBytes(3).toString('hex');

describe('network connect across an engine restart', () => {
  const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule], {
    letter: 'n', subnets: [144, 140],
  });

  it('a running container keeps its connection over an engine restart; disconnect and connect work after it', async () => {
    const startEngine = async (): Promise<RunningStack> => {
      return runServices([engineModule], { paths: s.paths, natsUrl: s.nats!.url, metrics: () => ({ host: '127.0.0.1', port: 0 }) });
    };
    let eng = await startEngine();
    let engine = s.client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    const nets = s.client<networksV1.NetworksDefinition, networksV1.NetworksHandlers>('berth.networks.v1.Networks', 'networks');
    const net = `bt-keep-${tag2}`;
    const ids: string[] = [];
    try {
      await s.busybox();
      await nets.CreateNetwork({ name: net, subnet: '10.219.141.0/24' });
      const a = await engine.RunContainer({ create: { name: `bt-ka-${tag2}`, config: { image: 'busybox:latest', cmd: { values: ['sleep', '300'] } }, pull: 'never' } });
      ids.push(a.id);
      const b = await engine.RunContainer({ create: { name: `bt-kb-${tag2}`, config: { image: 'busybox:latest', cmd: { values: ['sleep', '300'] } }, hostConfig: { networkMode: net }, pull: 'never' } });
      ids.push(b.id);
      const con = await engine.ConnectNetwork({ container: a.id, network: net, aliases: ['kept'] });
      expect(con.endpoint?.ipAddress).toMatch(/^10\.219\.141\./);

      engine.close();
      await eng.stop();
      eng = await startEngine();
      engine = s.client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
      // The new engine has the connection in the record; the container still has eth1 and reaches b by name.
      expect((await networksOf(engine, a.id))[net]).toMatchObject({ IPAddress: con.endpoint!.ipAddress, Aliases: ['kept'] });
      expect((await inCtr(engine, a.id, ['ping', '-c1', '-W2', `bt-kb-${tag2}`])).code).toBe(0);
      expect((await inCtr(engine, b.id, ['nslookup', 'kept'])).out).toContain(con.endpoint!.ipAddress);
      // Disconnect and connect again through the new engine (no netns handle of its own: the process's).
      await engine.DisconnectNetwork({ container: a.id, network: net });
      expect((await inCtr(engine, a.id, ['ip', '-o', 'link', 'show'])).out).not.toContain('eth1');
      const again = await engine.ConnectNetwork({ container: a.id, network: net });
      expect((await inCtr(engine, a.id, ['ip', '-o', '-4', 'addr', 'show', 'eth1'])).out).toContain(`inet ${again.endpoint!.ipAddress}/24`);
      expect((await inCtr(engine, a.id, ['ping', '-c1', '-W2', `bt-kb-${tag2}`])).code).toBe(0);
    } finally {
      // This stack's engine is the test's: remove what it made before stopping it.
      for (const id of ids) await engine.RemoveContainer({ id, force: true }).catch(() => undefined);
      await nets.RemoveNetwork({ name: net }).catch(() => undefined);
      engine.close();
      nets.close();
      await eng.stop();
    }
  }, 180_000);
});
