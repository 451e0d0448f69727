// The networks service through its real gRPC server and client: a bt- default
// bridge and subnets of the test's own (BERTH_DEFAULT_* env), a netns made
// here, events read back from a real NATS. Everything is purged in finally.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isFailedPrecondition, isInvalidArgument, isNotFound, rejection } from '@berth/errors';
import { runServices, type RunningStack } from '@berth/daemon';
import { startNatsServer, subscribeEvents, type CloudEvent, type NatsServerHandle } from '@berth/events';
import { createClient, socketPath, tempPaths, type TempPaths } from '@berth/kit';
import type { networksV1 } from '@berth/proto';
import { NetworkManager } from './manager';
import { networksModule, networksOptions } from './service';

const run = promisify(execFile);
const ENV_KEYS = ['BERTH_DEFAULT_BRIDGE', 'BERTH_DEFAULT_SUBNET', 'BERTH_BRIDGE_PREFIX', 'BERTH_CHAIN_PREFIX', 'BERTH_DNS_UPSTREAMS'] as const;


/** A /24 in 10.219.0.0/16 that no route on this machine covers (others' tests use 10.213). */
async function freeSubnets(n: number): Promise<string[]> {
  const routes = (await run('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout;
  const out: string[] = [];
  for (let tries = 0; out.length < n && tries < 200; tries++) {
    const o = 1 + Math.floor(Math.random() * 250);
    const s = `10.219.${o}.0/24`;
    if (!routes.includes(`10.219.${o}.`) && !out.includes(s)) out.push(s);
  }
  if (out.length < n) throw new Error('no free 10.219.x.0/24 subnet for the test');
  return out;
}

describe('networks service over gRPC', () => {
  const tag = randomBytes(3).toString('hex');
  const saved: Partial<Record<(typeof ENV_KEYS)[number], string | undefined>> = {};
  let paths: TempPaths;
  let nats: NatsServerHandle;
  let stack: RunningStack | undefined;
  const netns: string[] = [];

  beforeEach(async () => {
    for (const k of ENV_KEYS) saved[k] = process.env[k];
    paths = tempPaths();
    nats = await startNatsServer();
  });

  afterEach(async () => {
    try {
      await stack?.stop();
      stack = undefined;
      // The service leaves networks in place on close (they outlive it); the
      // test's bridges, chains and addresses go here, with the same options.
      const m = new NetworkManager(networksOptions(paths));
      await m.start();
      await m.purge();
      await m.close();
    } finally {
      for (const ns of netns.splice(0)) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
      for (const k of ENV_KEYS) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await nats.stop();
      paths.cleanup();
    }
  });

  it('creates a network, attaches a netns, serves its files, detaches and removes, with typed errors and events', async () => {
    const [defaultSubnet, appSubnet] = await freeSubnets(2);
    process.env['BERTH_DEFAULT_BRIDGE'] = `bt-d${tag}`;
    process.env['BERTH_DEFAULT_SUBNET'] = defaultSubnet!;
    process.env['BERTH_BRIDGE_PREFIX'] = `bt${tag.slice(0, 4)}-`;
    process.env['BERTH_CHAIN_PREFIX'] = `BERTH-T${tag}`;
    // The embedded DNS relays nowhere real: nothing here leaves loopback.
    process.env['BERTH_DNS_UPSTREAMS'] = '127.0.0.1:9';

    stack = await runServices([networksModule], { paths, natsUrl: nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }) });
    const c = createClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>(
      'berth.networks.v1.Networks', [`unix:${socketPath('networks', paths)}`], { timeoutMs: 20_000 });
    try {
      // The default network exists after start, on the configured bridge and subnet.
      const list = await c.ListNetworks({});
      const def = list.networks.find((n) => n.isDefault);
      expect(def).toMatchObject({ name: 'bridge', bridge: `bt-d${tag}`, subnet: defaultSubnet });
      expect(existsSync(`/sys/class/net/bt-d${tag}`)).toBe(true);

      const net = await c.CreateNetwork({ name: `bt-app-${tag}`, subnet: appSubnet! });
      expect(net.bridge.startsWith(`bt${tag.slice(0, 4)}-`)).toBe(true);
      expect(net.gateway).toBe(appSubnet!.replace(/0\/24$/, '1'));
      expect(net.dns).toBe(true);

      const ns = `bt-${tag}-c1`;
      await run('ip', ['netns', 'add', ns]);
      netns.push(ns);
      const a = await c.Attach({ containerId: `c1${tag}`, netnsPath: `/run/netns/${ns}`, network: net.name, name: 'web', hostname: 'webhost' });
      expect(a).toMatchObject({ containerId: `c1${tag}`, mode: 'bridge', network: net.name, networkId: net.id, interface: 'eth0', prefixLength: 24, gateway: net.gateway });
      expect(a.ip.startsWith(appSubnet!.replace(/0\/24$/, ''))).toBe(true);
      // The address really is in the namespace.
      expect((await run('ip', ['netns', 'exec', ns, 'ip', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(`${a.ip}/24`);

      const hosts = await c.HostsFile({ containerId: `c1${tag}` });
      expect(hosts.content).toContain(`${a.ip}\twebhost web`);
      const resolv = await c.ResolvConf({ containerId: `c1${tag}` });
      expect(resolv.content).toContain(`nameserver ${net.gateway}`);

      const inspected = await c.InspectNetwork({ name: net.name });
      expect(inspected.containers.map((x) => x.containerId)).toEqual([`c1${tag}`]);
      expect((await c.ListAttachments({ containerId: `c1${tag}` })).attachments).toHaveLength(1);
      await expect(c.CheckAttachment({ containerId: `c1${tag}` })).resolves.toEqual({});
      const stats = await c.Stats({ containerId: `c1${tag}` });
      expect(stats.interfaces[0]).toMatchObject({ containerId: `c1${tag}`, interface: 'eth0', hostInterface: a.hostInterface });

      // Typed errors come back over the wire.
      const busy = await rejection(c.RemoveNetwork({ name: net.name }));
      expect(isFailedPrecondition(busy)).toBe(true);
      expect(String(busy)).toContain('web');
      expect(isNotFound(await rejection(c.InspectNetwork({ name: `bt-nope-${tag}` })))).toBe(true);
      expect(isInvalidArgument(await rejection(c.CreateNetwork({ name: 'bad name!' })))).toBe(true);

      const detached = await c.Detach({ containerId: `c1${tag}`, network: '' });
      expect(detached.detached.map((x) => x.ip)).toEqual([a.ip]);
      await c.RemoveNetwork({ name: net.name });
      expect(existsSync(`/sys/class/net/${net.bridge}`)).toBe(false);
      expect((await c.ListNetworks({})).networks.map((n) => n.name)).toEqual(['bridge']);

      // The events went to NATS with NetworkEvent payloads.
      const seen: CloudEvent[] = [];
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), 5000);
      try {
        for await (const ev of subscribeEvents({ servers: nats.url, startSeq: 1, filter: 'berth.networks.>', signal: ac.signal })) {
          seen.push(ev);
          if (seen.length === 5) break;
        }
      } finally {
        clearTimeout(timer);
      }
      expect(seen.map((e) => e.type)).toEqual([
        'io.berth.networks.network.created', 'io.berth.networks.network.created', 'io.berth.networks.container.attached',
        'io.berth.networks.container.detached', 'io.berth.networks.network.removed',
      ]);
      expect(seen[2]).toMatchObject({ subject: `c1${tag}`, data: { network: net.name, networkId: net.id, action: 'attached', containerId: `c1${tag}`, address: `${a.ip}/24` } });
      expect(seen[4]).toMatchObject({ subject: net.name, data: { network: net.name, action: 'removed', containerId: '' } });
    } finally {
      c.close();
    }
  }, 60_000);
});
