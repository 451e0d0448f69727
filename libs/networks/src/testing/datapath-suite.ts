// The conformance suite every Datapath runs (datapath.ts; containerd's
// snapshotter suite is the model, layers' testing/suite.ts the house copy):
// a NetworkManager configured with the datapath, driving real network
// namespaces standing in for containers, real bridges, iptables and the
// embedded DNS. What it holds each datapath to is what a user sees:
// containers reaching each other by address and name, isolation between
// networks, published TCP/UDP ports, modes none/host/container, attachments
// surviving a restart, reconcile undoing what a crash or a gone container
// left, a second network (network connect) with a fixed address and --link
// aliases, and the host loopback guard on every bridge.
//
// Traffic stays between the test's namespaces, its bridges and the host's
// loopback; DNS relays go to a fake resolver on 127.0.0.1. Each datapath's
// run has its own subnet blocks (the two test files run at once): attach
// tests 10.213.<attach..attach+38>.0/24, connect tests
// 10.219.<connect..connect+4>.0/24, the guard 10.213.<guard..guard+4>.0/24.
// Everything is removed in afterEach (testing/fixture.ts), whatever the test did.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { chmod, lstat, readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { Registry } from 'prom-client';
import { isAlreadyExists, isFailedPrecondition, isInvalidArgument, rejection } from '@berth/errors';
import type { DatapathName } from '../datapath';
import { NetworkManager } from '../manager';
import type { NetworkEvent } from '../types';
import { Fixture, httpGet, inNs, sh } from './fixture';

/** Every datapath; tests that are not part of the suite (stress, crash) run over these. */
export const DATAPATHS: readonly DatapathName[] = ['native', 'cni'];

const BLOCKS: Record<DatapathName, { attach: number; connect: number; guard: number }> = {
  native: { attach: 10, connect: 135, guard: 190 },
  cni: { attach: 50, connect: 145, guard: 194 },
};

class ConnectFixture extends Fixture {
  override subnet(i: number): string { return `10.219.${this.octetBase + i}.0/24`; }
}

/** Every file and dir under the manager's state, IPAM and CNI cache dirs, with its mode. */
async function stateModes(fx: Fixture): Promise<[string, number, boolean][]> {
  const out: [string, number, boolean][] = [];
  const walk = async (d: string): Promise<void> => {
    for (const n of await readdir(d).catch(() => [] as string[])) {
      const p = join(d, n);
      const st = await lstat(p);
      if (st.isDirectory()) { out.push([p, st.mode & 0o7777, true]); await walk(p); }
      else if (st.isFile()) out.push([p, st.mode & 0o7777, false]);
    }
  };
  const o = fx.options();
  for (const d of [o.stateDir, o.ipamDataDir!, o.cniCacheDir!]) await walk(d);
  return out;
}
const openToOthers = (modes: [string, number, boolean][]) =>
  modes.filter(([, m, dir]) => (dir ? m !== 0o700 : (m & 0o077) !== 0)).map(([p, m]) => `${p} ${m.toString(8)}`);


/** Addresses claimed in fx's IPAM dir of `network` (files named like an address). */
async function claimed(fx: Fixture, network: string): Promise<string[]> {
  try {
    return (await readdir(join(fx.dir, 'ipam', network))).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort();
  } catch {
    return [];
  }
}

/** Host veths enslaved to `bridge`. */
async function ports(bridge: string): Promise<string[]> {
  const r = await sh('ip', ['-o', 'link', 'show', 'master', bridge]);
  return [...r.stdout.matchAll(/^\d+:\s+([^@:\s]+)/gm)].map((m) => m[1]!);
}

export function runDatapathSuite(datapath: DatapathName): void {
  const blocks = BLOCKS[datapath];

  describe(`${datapath} datapath: attachments`, () => {
    let fx: Fixture;
    beforeEach(async () => {
      fx = new Fixture(blocks.attach + Math.floor(Math.random() * 30));
      fx.datapath = datapath;
      await fx.setup();
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('connects two containers on a user-defined network by IP, name and alias', async () => {
      const m = await fx.manager();
      const events: NetworkEvent[] = [];
      m.onEvent((e) => events.push(e));
      const net = await m.createNetwork('app', { subnet: fx.subnet(1) });
      expect(net.gateway).toBe(`10.213.${fx.octetBase + 1}.1`);
      const [n1, p1] = await fx.ns('c1');
      const [, p2] = await fx.ns('c2');
      const a1 = await m.attach('c1id', p1, 'app', { name: 'web', hostname: 'webhost' });
      const a2 = await m.attach('c2id', p2, 'app', { name: 'db', aliases: ['database'] });
      expect(a1.interface).toBe('eth0');
      expect(a1.gateway).toBe(net.gateway);
      expect(a1.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(a1.ip).not.toBe(a2.ip);

      expect((await inNs(n1, ['/bin/busybox', 'ping', '-c1', '-W2', a2.ip])).code).toBe(0);
      // DNS to the gateway is accepted even on hosts whose INPUT policy is DROP.
      expect((await sh('iptables-save', ['-t', 'filter'])).stdout)
        .toContain(`-A BERTH-T${fx.tag}-INPUT -i ${net.bridge} -p udp -m udp --dport 53 -j ACCEPT`);

      const hosts = await m.hostsFile('c1id');
      expect(hosts).toContain(`${a1.ip}\twebhost web`);
      expect(hosts).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
      const resolv = await m.resolvConf('c1id');
      expect(resolv).toContain(`nameserver ${net.gateway}`);
      await fx.etc(n1, hosts, resolv);
      const look = await inNs(n1, ['/bin/busybox', 'nslookup', 'db']);
      expect(look.stdout).toContain(a2.ip);
      expect((await inNs(n1, ['/bin/busybox', 'ping', '-c1', '-W2', 'database'])).code).toBe(0);
      // Unknown names are relayed upstream (the fake resolver on loopback).
      expect((await inNs(n1, ['/bin/busybox', 'nslookup', 'elsewhere.test'])).stdout).toContain('10.213.254.254');

      // Removal refused while attached, naming the containers.
      const err = await rejection(m.removeNetwork('app'));
      expect(isFailedPrecondition(err)).toBe(true);
      expect(String(err)).toMatch(/web.*db|db.*web/);
      expect(m.inspectNetwork('app').containers.map((c) => c.name).sort()).toEqual(['db', 'web']);

      await m.detach('c1id');
      await m.detach('c2id');
      // The name is gone with the container.
      expect((await inNs(n1, ['/bin/busybox', 'nslookup', 'db'])).stdout).not.toContain(a2.ip);
      await m.removeNetwork('app');
      expect(existsSync(`/sys/class/net/${net.bridge}`)).toBe(false);
      expect(events.map((e) => e.type)).toEqual([
        'network.created', 'container.attached', 'container.attached', 'container.detached', 'container.detached', 'network.removed']);
    });

    it('resolves names of all networks a container is on', async () => {
      const m = await fx.manager();
      await m.createNetwork('front', { subnet: fx.subnet(7) });
      await m.createNetwork('back', { subnet: fx.subnet(8) });
      const [nx, px] = await fx.ns('mx');
      const [, py] = await fx.ns('my');
      const x1 = await m.attach('mxid', px, 'front', { name: 'proxy' });
      const x2 = await m.attach('mxid', px, 'back');
      expect([x1.interface, x2.interface]).toEqual(['eth0', 'eth1']);
      const y = await m.attach('myid', py, 'back', { name: 'api' });
      const resolv = await m.resolvConf('mxid');
      expect(resolv).toContain(`nameserver ${x1.gateway}`);
      await fx.etc(nx, await m.hostsFile('mxid'), resolv);
      expect((await inNs(nx, ['/bin/busybox', 'nslookup', 'api'])).stdout).toContain(y.ip);
      expect((await inNs(nx, ['/bin/busybox', 'ping', '-c1', '-W2', 'api'])).code).toBe(0);
      // Detaching one network leaves the other.
      await m.detach('mxid', 'back');
      expect(m.attachments('mxid').map((a) => a.network)).toEqual(['front']);
      await m.detach('mxid');
      await m.detach('myid');
    });

    it('internal networks have no way out; check notices a lost veth', async () => {
      const m = await fx.manager();
      const net = await m.createNetwork('inside', { subnet: fx.subnet(9), internal: true });
      const [n, p] = await fx.ns('in');
      const a = await m.attach('inid', p, 'inside', { name: 'hermit' });
      const routes = (await inNs(n, ['ip', 'route'])).stdout;
      expect(routes).not.toContain('default');
      expect(routes).toContain(net.subnet);
      expect((await inNs(n, ['/bin/busybox', 'ping', '-c1', '-W2', net.gateway])).code).toBe(0);
      expect(m.inspectNetwork('inside').network.internal).toBe(true);
      await m.check('inid');
      await sh('ip', ['link', 'del', a.hostInterface]);
      const err = await rejection(m.check('inid'));
      expect(String(err)).toMatch(/inid|eth0|veth|Link not found|not found/i);
      await m.detach('inid');
      expect(m.attachments('inid')).toEqual([]);
    });

    it('isolates containers on different networks', async () => {
      const m = await fx.manager();
      await m.createNetwork('left', { subnet: fx.subnet(1) });
      await m.createNetwork('right', { subnet: fx.subnet(2) });
      const [nl, pl] = await fx.ns('l');
      const [, pr] = await fx.ns('r');
      const al = await m.attach('lid', pl, 'left');
      const ar = await m.attach('rid', pr, 'right');
      // Control: the left container reaches its own gateway, and the host
      // routes between the bridges (the bridge plugin enables forwarding), so
      // only the isolation rules stand between the two.
      expect((await inNs(nl, ['/bin/busybox', 'ping', '-c1', '-W2', al.gateway])).code).toBe(0);
      expect((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim()).toBe('1');
      expect((await inNs(nl, ['/bin/busybox', 'ping', '-c1', '-W1', ar.ip])).code).not.toBe(0);
    });

    it('publishes ports on 127.0.0.1 and host addresses, with ephemeral ports and conflicts', async () => {
      const m = await fx.manager();
      const [n1, p1] = await fx.ns('h1');
      const fixed = 20000 + Math.floor(Math.random() * 9000);
      const a = await m.attach('h1id', p1, 'bridge', { name: 'site', ports: [`${fixed}:80`, '8080'] });
      expect(a.ports[0]).toEqual({ hostIp: '', hostPort: fixed, containerPort: 80, protocol: 'tcp' });
      const eph = a.ports[1]!;
      expect(eph.containerPort).toBe(8080);
      expect(eph.hostPort).toBeGreaterThanOrEqual(32768);
      await fx.httpd(n1, 80, 'hello from 80');
      await fx.httpd(n1, 8080, 'hello from 8080');
      expect(await httpGet('127.0.0.1', fixed)).toBe('hello from 80');
      expect(await httpGet('127.0.0.1', eph.hostPort)).toBe('hello from 8080');
      // A host address other than loopback: the default bridge's gateway.
      const gw = m.inspectNetwork('bridge').network.gateway;
      expect(await httpGet(gw, fixed)).toBe('hello from 80');
      // Hairpin: the container reaches its own published port through the host.
      const self = await inNs(n1, ['/bin/sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 3 ${gw} ${fixed}`]);
      expect(self.stdout).toContain('hello from 80');

      const [, p2] = await fx.ns('h2');
      const err = await rejection(m.attach('h2id', p2, 'bridge', { ports: [`127.0.0.1:${fixed}:81`] }));
      expect(isAlreadyExists(err)).toBe(true);
      expect(String(err)).toContain(String(fixed));
      expect(String(err)).toContain('site (h1id)');
      expect(m.attachments('h2id')).toEqual([]);
      // A host process holding the port, and an address the host does not have.
      const holder = createServer();
      await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
      try {
        const busy = (holder.address() as { port: number }).port;
        const e2 = await rejection(m.attach('h2id', p2, 'bridge', { ports: [`127.0.0.1:${busy}:80`] }));
        expect(isAlreadyExists(e2)).toBe(true);
        expect(String(e2)).toContain('process on the host');
      } finally {
        holder.close();
      }
      // A host range for one container port: the first port of it no one holds.
      const r = await m.attach('h3id', (await fx.ns('h3'))[1], 'bridge', { ports: [`127.0.0.1:${fixed}-${fixed + 2}:80`] });
      expect(r.ports).toEqual([{ hostIp: '127.0.0.1', hostPort: fixed + 1, containerPort: 80, protocol: 'tcp' }]);
      const r4 = await m.attach('h4id', (await fx.ns('h4'))[1], 'bridge', { ports: [{ hostIp: '127.0.0.1', hostPort: fixed, hostPortEnd: fixed + 2, containerPort: 80, protocol: 'tcp' }] });
      expect(r4.ports[0]!.hostPort).toBe(fixed + 2);
      const full = await rejection(m.attach('h5id', (await fx.ns('h5'))[1], 'bridge', { ports: [`127.0.0.1:${fixed}-${fixed + 2}:80`] }));
      expect(isAlreadyExists(full)).toBe(true);
      expect(String(full)).toContain(`every host port of 127.0.0.1:${fixed}-${fixed + 2}/tcp is already in use`);
      expect(m.attachments('h5id')).toEqual([]);
      await m.detach('h3id');
      await m.detach('h4id');
      const e3 = await rejection(m.attach('h2id', p2, 'bridge', { ports: ['198.51.100.7:8080:80'] }));
      expect(isInvalidArgument(e3)).toBe(true);
      expect(m.attachments('h2id')).toEqual([]);

      await m.detach('h1id');
      await expect(httpGet('127.0.0.1', fixed, 1000)).rejects.toThrow();
      expect((await sh('iptables-save', [])).stdout).not.toContain(`--dport ${fixed}`);
    });

    it('publishes UDP ports, also to a client whose flow predates the mapping', async () => {
      const m = await fx.manager();
      const [n, p] = await fx.ns('udp');
      const hostPort = 20000 + Math.floor(Math.random() * 9000);
      // A client that already sent to the port before it was published: its
      // conntrack entry carries no DNAT and would keep its flow off the container.
      const client = createSocket('udp4');
      await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
      client.on('error', () => { /* ICMP port unreachable before publishing */ });
      client.send('early', hostPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 200));
      try {
        const a = await m.attach('udpid', p, 'bridge', { ports: [`${hostPort}:5353/udp`] });
        expect(a.ports[0]!.protocol).toBe('udp');
        const echo = spawn('ip', ['netns', 'exec', n, process.execPath, '-e',
          "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(5353,()=>console.log('up'))"],
        { stdio: ['ignore', 'pipe', 'ignore'] });
        fx.procs.push(echo);
        await new Promise<void>((r) => echo.stdout!.once('data', () => r()));
        const reply = new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no UDP reply')), 3000);
          client.once('message', (b) => { clearTimeout(t); resolve(b.toString()); });
        });
        client.send('late', hostPort, '127.0.0.1');
        expect(await reply).toBe('echo:late');
        await m.detach('udpid');
      } finally {
        client.close();
      }
    });

    it('gives a none container only lo, up', async () => {
      const m = await fx.manager();
      const [n, p] = await fx.ns('none');
      const a = await m.attach('noneid', p, 'none');
      expect(a.interface).toBe('lo');
      const links = (await inNs(n, ['ip', '-o', 'link'])).stdout.trim().split('\n');
      expect(links).toHaveLength(1);
      expect(links[0]).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
      expect(await m.hostsFile('noneid')).not.toMatch(/^10\./m);
      expect(await m.resolvConf('noneid')).not.toMatch(/nameserver 127\./);
      await m.detach('noneid');
    });

    it('host and container modes set nothing up and share files', async () => {
      const m = await fx.manager();
      const [, p] = await fx.ns('owner');
      const owner = await m.attach('ownerid', p, 'bridge', { hostname: 'own' });
      const host = await m.attach('hostid', '', 'host');
      expect(host).toMatchObject({ mode: 'host', interface: '', ip: '' });
      const shared = await m.attach('sharer', p, 'container:ownerid');
      expect(shared.sharedWith).toBe('ownerid');
      expect(await m.hostsFile('sharer')).toContain(`${owner.ip}\town`);
      await m.detach('sharer');
      await m.detach('hostid');
      await m.detach('ownerid');
    });

    it('keeps attachments across a restart, and detach still works', async () => {
      const m1 = await fx.manager();
      await m1.createNetwork('persist', { subnet: fx.subnet(3) });
      const [n1, p1] = await fx.ns('r1');
      const [, p2] = await fx.ns('r2');
      const a1 = await m1.attach('r1id', p1, 'persist', { name: 'one' });
      const a2 = await m1.attach('r2id', p2, 'persist', { name: 'two' });
      await m1.close();
      const ipFiles = (await stateModes(fx)).filter(([p, , dir]) => !dir && p.endsWith(`/persist/${a1.ip}`));
      expect(ipFiles).toHaveLength(1);
      // Records and IPAM claims are 0600 from the start (CNI host-local's are closed right after its ADD).
      expect(openToOthers(await stateModes(fx))).toEqual([]);
      // State an older berth left open is closed when the manager starts.
      for (const [p, , dir] of await stateModes(fx)) await chmod(p, dir ? 0o755 : 0o644);

      const m2 = await fx.manager({}, ['r1id', 'r2id']);
      expect(openToOthers(await stateModes(fx))).toEqual([]);
      expect(m2.attachments('r1id')).toEqual([a1]);
      await fx.etc(n1, await m2.hostsFile('r1id'), await m2.resolvConf('r1id'));
      expect((await inNs(n1, ['/bin/busybox', 'nslookup', 'two'])).stdout).toContain(a2.ip);
      expect((await inNs(n1, ['/bin/busybox', 'ping', '-c1', '-W2', 'two'])).code).toBe(0);
      await m2.check('r1id');
      await m2.detach('r1id');
      await m2.detach('r2id');
      expect(existsSync(`/sys/class/net/${a1.hostInterface}`)).toBe(false);
      expect((await inNs(n1, ['ip', '-o', 'link'])).stdout).not.toContain('eth0');
    });

    it('counts traffic per container with cAdvisor names', async () => {
      const m = await fx.manager();
      await m.createNetwork('cnt', { subnet: fx.subnet(4) });
      const [n, p] = await fx.ns('cnt');
      const a = await m.attach('cntid', p, 'cnt', { name: 'counted' });
      const before = (await m.stats('cntid'))[0]!.counters;
      expect((await inNs(n, ['/bin/busybox', 'ping', '-c5', '-i0.2', '-s1000', a.gateway])).code).toBe(0);
      const after = (await m.stats('cntid'))[0]!.counters;
      expect(after.txBytes - before.txBytes).toBeGreaterThan(5000);
      expect(after.rxBytes - before.rxBytes).toBeGreaterThan(5000);
      expect(after.txPackets - before.txPackets).toBeGreaterThanOrEqual(5);
      expect(after.hostInterface).toBe(a.hostInterface);
      const reg = new Registry();
      m.registerMetrics(reg);
      const text = await reg.metrics();
      const line = new RegExp(`^container_network_transmit_bytes_total\\{id="cntid",name="counted",interface="eth0"\\} (\\d+)$`, 'm');
      expect(Number(line.exec(text)?.[1])).toBeGreaterThanOrEqual(after.txBytes);
      for (const name of ['receive_bytes', 'receive_packets', 'transmit_packets', 'receive_errors', 'transmit_errors',
        'receive_packets_dropped', 'transmit_packets_dropped']) {
        expect(text).toContain(`container_network_${name}_total{id="cntid"`);
      }
      await m.detach('cntid');
    });

    it('reconciles: undoes gone containers and attaches a crash interrupted', async () => {
      const m1 = await fx.manager();
      const [, p1] = await fx.ns('k1');
      const [n2, p2] = await fx.ns('k2');
      const gone = await m1.attach('goneid', p1, 'bridge', { ports: ['80'] });
      const half = await m1.attach('halfid', p2, 'bridge');
      await m1.close();
      // Simulate a crash between ADD and the 'attached' write for halfid.
      const f = join(fx.dir, 'state', 'endpoints', 'halfid.json');
      const rec = JSON.parse(await readFile(f, 'utf8')) as { phase: string }[];
      rec[0]!.phase = 'attaching';
      await writeFile(f, JSON.stringify(rec));
      // And the engine lost goneid's namespace with the container.
      await sh('ip', ['netns', 'del', `bt-${fx.tag}-k1`]);

      const m2 = new NetworkManager(fx.options());
      fx.managers.push(m2);
      const rep = (await m2.start({ existingContainers: ['halfid'] }))!;
      expect(rep.detached).toEqual(['goneid']);
      expect(rep.rolledBack).toEqual([{ containerId: 'halfid', network: 'bridge' }]);
      expect(m2.attachments()).toEqual([]);
      for (const a of [gone, half]) expect(existsSync(`/sys/class/net/${a.hostInterface}`)).toBe(false);
      expect((await inNs(n2, ['ip', '-o', 'link'])).stdout).not.toContain('eth0');
      const ipam = await sh('ls', [join(fx.dir, 'ipam', 'bridge')]);
      expect(ipam.stdout).not.toMatch(/10\.213\./);
      expect((await sh('iptables-save', [])).stdout).not.toContain(`--dport ${gone.ports[0]!.hostPort}`);
    });

    it('reconcile leaves an attachment made after its caller read the list (the engine starting containers during its recovery)', async () => {
      const m = await fx.manager();
      const [, p] = await fx.ns('late');
      const listReadAt = Date.now() - 1;
      const late = await m.attach('lateid', p, 'bridge');
      // The list (read at listReadAt) does not name lateid: it is newer than the list, not gone.
      const kept = await m.reconcile([], listReadAt);
      expect(kept.detached).toEqual([]);
      expect(m.attachments('lateid')).toHaveLength(1);
      expect(existsSync(`/sys/class/net/${late.hostInterface}`)).toBe(true);
      // A list read after the attach that still does not name it: gone.
      const rep = await m.reconcile([], Date.now());
      expect(rep.detached).toEqual(['lateid']);
      expect(existsSync(`/sys/class/net/${late.hostInterface}`)).toBe(false);
    });

    it('attaches many containers at once with distinct addresses', async () => {
      const m = await fx.manager();
      await m.createNetwork('par', { subnet: fx.subnet(6) });
      const paths = await Promise.all(Array.from({ length: 8 }, (_, i) => fx.ns(`p${i}`)));
      const atts = await Promise.all(paths.map(([, p], i) => m.attach(`par${i}`, p, 'par', { name: `par${i}`, ports: ['80'] })));
      expect(new Set(atts.map((a) => a.ip)).size).toBe(8);
      expect(new Set(atts.map((a) => a.ports[0]!.hostPort)).size).toBe(8);
      const [n0] = paths[0]!;
      expect((await inNs(n0, ['/bin/busybox', 'ping', '-c1', '-W2', atts[7]!.ip])).code).toBe(0);
      await Promise.all(atts.map((a) => m.detach(a.containerId)));
      expect((await sh('ip', ['-o', 'link', 'show', 'master', m.inspectNetwork('par').network.bridge])).stdout.trim()).toBe('');
      // Racing for one explicit host port: exactly one wins.
      const port = 20000 + Math.floor(Math.random() * 9000);
      const race = await Promise.allSettled(paths.slice(0, 4).map(([, p], i) => m.attach(`race${i}`, p, 'par', { ports: [`${port}:80`] })));
      expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(race.filter((r) => r.status === 'rejected').every((r) => isAlreadyExists((r as PromiseRejectedResult).reason))).toBe(true);
      for (let i = 0; i < 4; i++) await m.detach(`race${i}`);
    });

    it('reconcile removes leftovers no record explains', async () => {
      const m1 = await fx.manager();
      const [, p] = await fx.ns('orph');
      const orphan = `orph${fx.tag}`;
      const a = await m1.attach(orphan, p, 'bridge', { ports: ['80'] });
      await m1.close();
      // Lose the record, as if the service died between the kernel work and the
      // state write: veth, address file and port rules are left with no owner.
      await sh('rm', ['-f', join(fx.dir, 'state', 'endpoints', `${orphan}.json`)]);
      const m2 = await fx.manager({}, []);
      expect(m2.attachments()).toEqual([]);
      expect(existsSync(`/sys/class/net/${a.hostInterface}`)).toBe(false);
      expect((await sh('ls', [join(fx.dir, 'ipam', 'bridge')])).stdout).not.toContain(a.ip);
      const save = (await sh('iptables-save', [])).stdout;
      expect(save).not.toContain(`--dport ${a.ports[0]!.hostPort}`);
      expect(save).not.toContain(orphan);
    });

    it('attaches to a drop-in conflist network', async () => {
      const conf = join(fx.dir, 'conf');
      await mkdir(conf, { recursive: true });
      await writeFile(join(conf, '10-extra.conflist'), JSON.stringify({
        cniVersion: '1.0.0', name: `extra${fx.tag}`,
        plugins: [{ type: 'bridge', bridge: `bt-x${fx.tag}`, isGateway: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: fx.subnet(5) }]], dataDir: join(fx.dir, 'ipam-extra') } }],
      }));
      const m = await fx.manager();
      expect(m.listNetworks().find((n) => n.name === `extra${fx.tag}`)).toMatchObject({ driver: 'cni', subnet: fx.subnet(5) });
      const [n, p] = await fx.ns('x');
      const a = await m.attach('xid', p, `extra${fx.tag}`);
      expect(a.ip).toMatch(new RegExp(`^10\\.213\\.${fx.octetBase + 5}\\.`));
      expect((await inNs(n, ['/bin/busybox', 'ping', '-c1', '-W2', a.gateway])).code).toBe(0);
      await m.detach('xid');
      await sh('ip', ['link', 'del', `bt-x${fx.tag}`]);
    });
  });

  describe(`${datapath} datapath: second attachment (network connect)`, () => {
    let fx: ConnectFixture;
    beforeEach(async () => {
      fx = new ConnectFixture(blocks.connect);
      fx.datapath = datapath;
      await fx.setup();
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('adds eth1 with a fixed address and names on the second network; detaching it leaves eth0 alone', async () => {
      const m = await fx.manager();
      const front = await m.createNetwork('front', { subnet: fx.subnet(1) });
      const back = await m.createNetwork('back', { subnet: fx.subnet(2) });
      const [nx, px] = await fx.ns('x');
      const [ny, py] = await fx.ns('y');
      const x0 = await m.attach('xid', px, 'front', { name: 'proxy' });
      const y = await m.attach('yid', py, 'back', { name: 'api' });
      // Before: x cannot reach y (different networks, isolated).
      expect((await inNs(nx, ['/bin/busybox', 'ping', '-c1', '-W1', y.ip])).code).not.toBe(0);

      const fixed = fx.subnet(2).replace(/0\/24$/, '77');
      const x1 = await m.attach('xid', px, 'back', { name: 'proxy', aliases: ['edge'], ip: fixed });
      expect(x1.interface).toBe('eth1');
      expect(x1.ip).toBe(fixed);
      expect(x1.gateway).toBe(back.gateway);
      const addrs = (await inNs(nx, ['ip', '-o', '-4', 'addr', 'show'])).stdout;
      expect(addrs).toMatch(new RegExp(`eth0\\s+inet ${x0.ip.replace(/\./g, '\\.')}/24`));
      expect(addrs).toMatch(new RegExp(`eth1\\s+inet ${fixed.replace(/\./g, '\\.')}/24`));
      // Only the first network has the default route.
      const routes = (await inNs(nx, ['ip', 'route'])).stdout;
      expect(routes).toMatch(new RegExp(`default via ${front.gateway.replace(/\./g, '\\.')} dev eth0`));
      expect(routes).not.toMatch(/default[^\n]*eth1/);
      expect(await claimed(fx, 'back')).toContain(fixed);
      expect(await ports(back.bridge)).toHaveLength(2);

      // Over eth1 x reaches y, and y resolves x's name and alias on back.
      expect((await inNs(nx, ['/bin/busybox', 'ping', '-c1', '-W2', y.ip])).code).toBe(0);
      await fx.etc(ny, await m.hostsFile('yid'), await m.resolvConf('yid'));
      expect((await inNs(ny, ['/bin/busybox', 'nslookup', 'edge'])).stdout).toContain(fixed);
      expect((await inNs(ny, ['/bin/busybox', 'nslookup', 'proxy'])).stdout).toContain(fixed);
      // x's hosts file now lists both addresses.
      const hosts = await m.hostsFile('xid');
      expect(hosts).toContain(`${x0.ip}\t`);
      expect(hosts).toContain(`${fixed}\t`);

      // Detach from back only.
      const gone = await m.detach('xid', 'back');
      expect(gone.map((a) => a.network)).toEqual(['back']);
      expect(m.attachments('xid').map((a) => a.network)).toEqual(['front']);
      expect((await inNs(nx, ['ip', '-o', 'link', 'show'])).stdout).not.toContain('eth1');
      expect(existsSync(`/sys/class/net/${x1.hostInterface}`)).toBe(false);
      expect(await claimed(fx, 'back')).toEqual([y.ip]);
      expect(await ports(back.bridge)).toHaveLength(1);
      expect((await inNs(ny, ['/bin/busybox', 'nslookup', 'edge'])).stdout).not.toContain(fixed);
      expect((await inNs(nx, ['/bin/busybox', 'ping', '-c1', '-W1', y.ip])).code).not.toBe(0);
      // eth0 still works.
      expect((await inNs(nx, ['/bin/busybox', 'ping', '-c1', '-W2', front.gateway])).code).toBe(0);
      expect(await claimed(fx, 'front')).toEqual([x0.ip]);

      // The address is free again: connecting once more gets it back.
      const again = await m.attach('xid', px, 'back', { ip: fixed });
      expect(again.ip).toBe(fixed);
      expect(again.interface).toBe('eth1');
    });

    it('--link aliases resolve for the linking container only, and go with its detach', async () => {
      const m = await fx.manager();
      await m.createNetwork('front', { subnet: fx.subnet(1) });
      await m.createNetwork('back', { subnet: fx.subnet(2) });
      const [nx, px] = await fx.ns('x');
      const [, py] = await fx.ns('y');
      const [nz, pz] = await fx.ns('z');
      await m.attach('xid', px, 'front', { name: 'proxy' });
      const y = await m.attach('yid', py, 'back', { name: 'api' });
      await m.attach('zid', pz, 'back', { name: 'other' });
      await m.attach('xid', px, 'back', { name: 'proxy', links: [{ name: 'api', alias: 'db' }] });
      // x asks front's responder (its resolv.conf), which answers x's link on back.
      await fx.etc(nx, await m.hostsFile('xid'), await m.resolvConf('xid'));
      expect((await inNs(nx, ['/bin/busybox', 'nslookup', 'db'])).stdout).toContain(y.ip);
      expect((await inNs(nx, ['/bin/busybox', 'ping', '-c1', '-W2', 'db'])).code).toBe(0);
      // z, on the same network, does not have x's link (the fake upstream answers 10.213.254.254).
      await fx.etc(nz, await m.hostsFile('zid'), await m.resolvConf('zid'));
      expect((await inNs(nz, ['/bin/busybox', 'nslookup', 'db'])).stdout).not.toContain(y.ip);
      expect((await inNs(nz, ['/bin/busybox', 'nslookup', 'api'])).stdout).toContain(y.ip);
      await m.detach('xid', 'back');
      expect((await inNs(nx, ['/bin/busybox', 'nslookup', 'db'])).stdout).not.toContain(y.ip);
      const onDefault = await rejection(m.attach('yid', py, 'bridge', { links: [{ name: 'other', alias: 'o' }] }));
      expect(isInvalidArgument(onDefault)).toBe(true);
      expect(String(onDefault)).toContain('links: network bridge has no name resolution');
      const badName = await rejection(m.attach('xid', px, 'back', { links: [{ name: 'a b', alias: 'c' }] }));
      expect(isInvalidArgument(badName)).toBe(true);
      expect(m.attachments('xid').map((a) => a.network)).toEqual(['front']);
      expect(m.attachments('yid').map((a) => a.network)).toEqual(['back']);
    });

    it('refuses a bad or taken fixed address and leaves nothing behind', async () => {
      const m = await fx.manager();
      const back = await m.createNetwork('back', { subnet: fx.subnet(2) });
      const [, px] = await fx.ns('x');
      const [, py] = await fx.ns('y');
      await m.attach('xid', px, 'bridge');
      const y = await m.attach('yid', py, 'back', { name: 'api' });
      const before = { claimed: await claimed(fx, 'back'), ports: await ports(back.bridge) };

      const outside = await rejection(m.attach('xid', px, 'back', { ip: '10.219.200.5' }));
      expect(isInvalidArgument(outside)).toBe(true);
      expect(String(outside)).toContain(`ip: 10.219.200.5 is not a host address of network back's subnet ${fx.subnet(2)}`);
      const gw = await rejection(m.attach('xid', px, 'back', { ip: back.gateway }));
      expect(isInvalidArgument(gw)).toBe(true);
      expect(String(gw)).toContain('gateway');
      const junk = await rejection(m.attach('xid', px, 'back', { ip: 'ten.1.2.3' }));
      expect(isInvalidArgument(junk)).toBe(true);
      const taken = await rejection(m.attach('xid', px, 'back', { ip: y.ip }));
      expect(isAlreadyExists(taken)).toBe(true);
      expect(String(taken)).toContain('api (yid)');
      const onDefault = await rejection(m.attach('zid', px, 'bridge', { ip: fx.subnet(0).replace(/0\/24$/, '9') }));
      expect(isInvalidArgument(onDefault)).toBe(true);
      expect(String(onDefault)).toContain('user defined networks only');
      const twice = await rejection(m.attach('yid', py, 'back'));
      expect(isAlreadyExists(twice)).toBe(true);

      expect(m.attachments('xid').map((a) => a.network)).toEqual(['bridge']);
      expect(m.attachments('zid')).toEqual([]);
      expect(await claimed(fx, 'back')).toEqual(before.claimed);
      expect(await ports(back.bridge)).toEqual(before.ports);
    });
  });

  describe(`${datapath} datapath: host loopback guard (firewall.ts)`, () => {
    let fx: Fixture;
    beforeEach(async () => {
      fx = new Fixture(blocks.guard + Math.floor(Math.random() * 4));
      fx.datapath = datapath;
      await fx.setup();
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('drops packets for 127.0.0.0/8 arriving on each berth bridge, created and removed with the network', async () => {
      const m = await fx.manager();
      const net = await m.createNetwork(`lo${fx.tag}`, { subnet: fx.subnet(1) });
      const chain = `BERTH-T${fx.tag}-RAW`;
      const rule = `-A ${chain} -d 127.0.0.0/8 -i ${net.bridge} -j DROP`;
      // The bridge needs route_localnet for -p 127.0.0.1:X, which is what opens the hole.
      expect((await readFile(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`, 'utf8')).trim()).toBe('1');
      let raw = (await sh('iptables-save', ['-t', 'raw'])).stdout;
      expect(raw).toContain(`-A PREROUTING -j ${chain}`);
      expect(raw).toContain(rule);
      await m.removeNetwork(`lo${fx.tag}`);
      raw = (await sh('iptables-save', ['-t', 'raw'])).stdout;
      expect(raw).not.toContain(rule);
    }, 60_000);
  });
}
