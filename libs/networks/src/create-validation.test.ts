// CreateNetwork refuses subnets, gateways and options a bridge network cannot
// have, before anything exists: `--subnet 127.0.0.0/8` used to put 127.0.0.1/8
// on a bridge with a MASQUERADE rule. INVALID_ARGUMENT names the field; no
// network record, bridge or rule is left behind.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isInvalidArgument, rejection } from '@berth/errors';
import { Fixture, sh } from './testing/fixture';
import type { CreateNetworkOptions } from './types';
import { specialRange } from './ipv4';
import { parseCidr } from './ipv4';

describe('specialRange', () => {
  it.each([
    ['127.0.0.0/8', /loopback/], ['127.1.0.0/16', /loopback/], ['0.0.0.0/8', /this network/], ['0.0.0.0/1', /this network/],
    ['169.254.0.0/16', /link-local/], ['224.0.0.0/4', /multicast/], ['239.1.0.0/16', /multicast/], ['240.0.0.0/4', /reserved/],
    ['255.255.255.252/30', /reserved/], ['10.0.0.0/8', undefined], ['172.16.0.0/12', undefined], ['192.168.1.0/24', undefined],
    ['100.64.0.0/10', undefined],
  ])('%s', (cidr, why) => {
    const r = specialRange(parseCidr(cidr));
    if (why) expect(r).toMatch(why);
    else expect(r).toBeUndefined();
  });
});

let fx: Fixture;

describe('NetworkManager.createNetwork validation', () => {
  beforeEach(async () => {
    fx = new Fixture(10 + Math.floor(Math.random() * 80));
    await fx.setup();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  const BAD: Array<[string, CreateNetworkOptions, string]> = [
    ['the loopback range', { subnet: '127.0.0.0/8' }, 'subnet'],
    ['part of loopback', { subnet: '127.5.0.0/24' }, 'subnet'],
    ['0.0.0.0/8', { subnet: '0.0.0.0/8' }, 'subnet'],
    ['multicast', { subnet: '224.1.1.0/24' }, 'subnet'],
    ['link-local', { subnet: '169.254.10.0/24' }, 'subnet'],
    ['reserved', { subnet: '250.0.0.0/24' }, 'subnet'],
    ['a /4', { subnet: '16.0.0.0/4' }, 'subnet'],
    ['a /31', { subnet: '10.213.250.0/31' }, 'subnet'],
    ['host bits', { subnet: '10.213.250.1/24' }, 'subnet'],
    ['not a CIDR', { subnet: 'localhost' }, 'subnet'],
    ['a gateway outside the subnet', { subnet: '10.213.250.0/24', gateway: '10.213.251.1' }, 'gateway'],
    ['the network address as gateway', { subnet: '10.213.250.0/24', gateway: '10.213.250.0' }, 'gateway'],
    ['a gateway that is not an address', { subnet: '10.213.250.0/24', gateway: 'gw.local' }, 'gateway'],
    ['an MTU of 10', { subnet: '10.213.250.0/24', mtu: 10 }, 'mtu'],
    ['a negative MTU', { subnet: '10.213.250.0/24', mtu: -1 }, 'mtu'],
    ['a sysctl outside net.*', { subnet: '10.213.250.0/24', sysctls: { 'kernel.core_pattern': '|/bin/sh' } }, 'sysctls'],
    ['a sysctl climbing out of /proc/sys/net', { subnet: '10.213.250.0/24', sysctls: { 'net.ipv4/../../kernel/x': '1' } }, 'sysctls'],
    ['a sysctl value with a newline', { subnet: '10.213.250.0/24', sysctls: { 'net.ipv4.conf.eth0.rp_filter': '1\n2' } }, 'sysctls'],
    ['a label without a key', { subnet: '10.213.250.0/24', labels: { '': 'x' } }, 'labels'],
    ['65 labels', { subnet: '10.213.250.0/24', labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, 'labels'],
    ['a label value over 4096 bytes', { subnet: '10.213.250.0/24', labels: { k: 'x'.repeat(4097) } }, 'labels'],
  ];

  it('refuses each bad value with the field named, and leaves nothing behind', async () => {
    const m = await fx.manager();
    const before = (await sh('ip', ['-o', 'link', 'show'])).stdout;
    for (const [what, opts, field] of BAD) {
      const e = await rejection(m.createNetwork(`bad-${fx.tag}`, opts));
      expect(isInvalidArgument(e), `${what}: ${String(e)}`).toBe(true);
      expect(e.field, what).toBe(field);
    }
    expect(m.listNetworks().map((n) => n.name)).not.toContain(`bad-${fx.tag}`);
    expect((await sh('ip', ['-o', 'link', 'show'])).stdout.split('\n').filter((l) => l.includes(`bt${fx.tag.slice(0, 4)}-`)).length)
      .toBe(before.split('\n').filter((l) => l.includes(`bt${fx.tag.slice(0, 4)}-`)).length);
    // The same fields with good values make a network.
    const ok = await m.createNetwork(`ok-${fx.tag}`, {
      subnet: fx.subnet(3), gateway: `10.213.${fx.octetBase + 3}.254`, mtu: 1400, sysctls: { 'net.ipv4.conf.eth0.rp_filter': '1' }, labels: { team: 'berth', tier: '' },
    });
    expect(ok.gateway).toBe(`10.213.${fx.octetBase + 3}.254`);
    // Labels are kept with the network and come back from a restarted manager's store.
    expect(m.listNetworks().find((n) => n.name === `ok-${fx.tag}`)?.labels).toEqual({ team: 'berth', tier: '' });
    await m.close();
    const again = await fx.manager();
    expect(again.inspectNetwork(`ok-${fx.tag}`).network.labels).toEqual({ team: 'berth', tier: '' });
  });
});
