// A second attachment of a container that already has one (docker network
// connect), with and without a fixed address, and detaching one of two
// (network disconnect): real namespaces, bridges and DNS. Subnets
// 10.219.135-139.0/24 (this file's block), names from the Fixture's tag.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlreadyExists, isInvalidArgument, rejection } from '@berth/errors';
import { Fixture, inNs, sh } from './testing/fixture';

class ConnectFixture extends Fixture {
  override subnet(i: number): string { return `10.219.${135 + i}.0/24`; }
}

let fx: ConnectFixture;

/** Addresses claimed in the IPAM dir of `network` (files named like an address). */
async function claimed(network: string): Promise<string[]> {
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

describe.each(['native', 'cni'] as const)('second attachment (network connect), %s datapath', (datapath) => {
  beforeEach(async () => {
    fx = new ConnectFixture(0);
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

    const fixed = '10.219.137.77';
    const x1 = await m.attach('xid', px, 'back', { name: 'proxy', aliases: ['edge'], ip: fixed });
    expect(x1.interface).toBe('eth1');
    expect(x1.ip).toBe(fixed);
    expect(x1.gateway).toBe(back.gateway);
    const addrs = (await inNs(nx, ['ip', '-o', '-4', 'addr', 'show'])).stdout;
    expect(addrs).toMatch(new RegExp(`eth0\\s+inet ${x0.ip.replace(/\./g, '\\.')}/24`));
    expect(addrs).toMatch(/eth1\s+inet 10\.219\.137\.77\/24/);
    // Only the first network has the default route.
    const routes = (await inNs(nx, ['ip', 'route'])).stdout;
    expect(routes).toMatch(new RegExp(`default via ${front.gateway.replace(/\./g, '\\.')} dev eth0`));
    expect(routes).not.toMatch(/default[^\n]*eth1/);
    expect(await claimed('back')).toContain(fixed);
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
    expect(await claimed('back')).toEqual([y.ip]);
    expect(await ports(back.bridge)).toHaveLength(1);
    expect((await inNs(ny, ['/bin/busybox', 'nslookup', 'edge'])).stdout).not.toContain(fixed);
    expect((await inNs(nx, ['/bin/busybox', 'ping', '-c1', '-W1', y.ip])).code).not.toBe(0);
    // eth0 still works.
    expect((await inNs(nx, ['/bin/busybox', 'ping', '-c1', '-W2', front.gateway])).code).toBe(0);
    expect(await claimed('front')).toEqual([x0.ip]);

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
    const before = { claimed: await claimed('back'), ports: await ports(back.bridge) };

    const outside = await rejection(m.attach('xid', px, 'back', { ip: '10.219.200.5' }));
    expect(isInvalidArgument(outside)).toBe(true);
    expect(String(outside)).toMatch(/ip: 10\.219\.200\.5 is not a host address of network back's subnet 10\.219\.137\.0\/24/);
    const gw = await rejection(m.attach('xid', px, 'back', { ip: back.gateway }));
    expect(isInvalidArgument(gw)).toBe(true);
    expect(String(gw)).toContain('gateway');
    const junk = await rejection(m.attach('xid', px, 'back', { ip: 'ten.1.2.3' }));
    expect(isInvalidArgument(junk)).toBe(true);
    const taken = await rejection(m.attach('xid', px, 'back', { ip: y.ip }));
    expect(isAlreadyExists(taken)).toBe(true);
    expect(String(taken)).toContain('api (yid)');
    const onDefault = await rejection(m.attach('zid', px, 'bridge', { ip: '10.219.135.9' }));
    expect(isInvalidArgument(onDefault)).toBe(true);
    expect(String(onDefault)).toContain('user defined networks only');
    const twice = await rejection(m.attach('yid', py, 'back'));
    expect(isAlreadyExists(twice)).toBe(true);

    expect(m.attachments('xid').map((a) => a.network)).toEqual(['bridge']);
    expect(m.attachments('zid')).toEqual([]);
    expect(await claimed('back')).toEqual(before.claimed);
    expect(await ports(back.bridge)).toEqual(before.ports);
  });
});
