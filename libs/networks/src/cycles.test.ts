// 100 attach/detach cycles must leave nothing behind: no veth, no host-local
// allocation, no cached result, no iptables rule.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Fixture, sh } from './testing/fixture';
import { DATAPATHS } from './testing/datapath-suite';

let fx: Fixture;

/**
 * iptables-save lines that are this fixture's, counters stripped: its chains,
 * its bridges, its subnets, and the CNI-* chains those lines jump to. Only
 * its own: other tests create and remove rules on this machine meanwhile.
 */
async function ourRules(f: Fixture): Promise<string[]> {
  const out = (await sh('iptables-save', [])).stdout;
  const all = out.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, ''));
  const subnets = Array.from({ length: 10 }, (_, i) => f.subnet(i).replace(/0\/24$/, ''));
  const mine = (l: string) => l.includes(`BERTH-T${f.tag}`) || l.includes(`bt-d${f.tag}`) || l.includes(`bt${f.tag.slice(0, 4)}-`) || l.includes(`bt-${f.tag}`) || subnets.some((s) => l.includes(s));
  const cniChains = new Set(all.filter(mine).flatMap((l) => l.match(/CNI-[A-Za-z0-9_-]+/g) ?? []));
  return all.filter((l) => mine(l) || [...cniChains].some((c) => l.includes(c)));
}

/** Host links that are this fixture's (its bridges) or named in `veths`, sorted; other tests add and remove theirs meanwhile. */
async function links(f: Fixture, veths: Set<string> = new Set()): Promise<string[]> {
  return (await sh('ip', ['-o', 'link'])).stdout.split('\n')
    .map((l) => /^\d+:\s+([^@:\s]+)/.exec(l)?.[1] ?? '').filter(Boolean)
    .filter((n) => n.includes(f.tag) || n.startsWith(`bt${f.tag.slice(0, 4)}-`) || veths.has(n)).sort();
}

describe.each(DATAPATHS)('%s datapath', (datapath) => {
beforeEach(async () => {
  fx = new Fixture(100 + Math.floor(Math.random() * 90));
  fx.datapath = datapath;
  await fx.setup();
});
afterEach(async () => {
  await fx.cleanup();
});

it('100 attach/detach cycles leave no veth, IP allocation, cache entry or iptables rule', async () => {
  const rulesBefore = await ourRules(fx);
  const linksBefore = await links(fx);
  const veths = new Set<string>();
  const m = await fx.manager();
  const net = await m.createNetwork('cyc', { subnet: fx.subnet(0 + 1) });
  const [, path] = await fx.ns('cyc');
  const rulesWithNetwork = await ourRules(fx);
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    const a = await m.attach(`cyc${i}`, path, 'cyc', { name: `c${i}`, ports: i % 2 ? ['80', '53/udp'] : [] });
    expect(a.ip).toMatch(/^10\.213\./);
    if (a.hostInterface) veths.add(a.hostInterface);
    await m.detach(`cyc${i}`);
  }
  const perCycle = (performance.now() - t0) / 100;
  console.log(`${datapath}: attach+detach cycle: ${perCycle.toFixed(1)} ms (half of them with 2 published ports)`);
  expect((await sh('ip', ['-o', 'link', 'show', 'master', net.bridge])).stdout.trim()).toBe('');
  const alloc = (await readdir(join(fx.dir, 'ipam', 'cyc'))).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  expect(alloc).toEqual([]);
  expect(await readdir(join(fx.dir, 'cache', 'results')).catch(() => [])).toEqual([]);
  expect(await ourRules(fx)).toEqual(rulesWithNetwork);
  expect(veths.size).toBe(100); // each attach made its own host veth, and each is gone
  expect(await links(fx, veths)).toEqual([...linksBefore, net.bridge, `bt-d${fx.tag}`].sort());

  await m.removeNetwork('cyc');
  await m.purge();
  expect(await ourRules(fx)).toEqual(rulesBefore);
  expect(await links(fx, veths)).toEqual(linksBefore);
});
});
