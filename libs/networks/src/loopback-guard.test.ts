// Host loopback guard (firewall.ts): route_localnet=1 on berth bridges lets
// the host accept packets for 127.0.0.0/8 arriving on them, so each bridge
// network comes with a raw-table rule dropping those, on the native datapath
// and the CNI one alike, and goes with the network. (The end-to-end probe,
// a container sending such frames, is in test/confinement.test.ts.)
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { Fixture, sh } from './testing/fixture';

describe.each(['native', 'cni'] as const)('%s datapath', (datapath) => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = new Fixture(190 + Math.floor(Math.random() * 8));
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
