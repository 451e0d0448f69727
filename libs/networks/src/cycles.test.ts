// 100 attach/detach cycles must leave nothing behind: no veth, no host-local
// allocation, no cached result, no iptables rule.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Fixture, sh } from '../test/helpers';

let fx: Fixture;

/** iptables-save lines that could be ours (CNI-*, our chains, our subnets, bt devices), counters stripped. */
async function ourRules(tag: string): Promise<string[]> {
  const out = (await sh('iptables-save', [])).stdout;
  return out.split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
    .filter((l) => /CNI-|10\.213\.|\bbt/.test(l) || l.includes(`BERTH-T${tag}`));
}

async function links(): Promise<string[]> {
  return (await sh('ip', ['-o', 'link'])).stdout.split('\n')
    .map((l) => /^\d+:\s+([^@:\s]+)/.exec(l)?.[1] ?? '').filter(Boolean).sort();
}

describe.each(['native', 'cni'] as const)('%s datapath', (datapath) => {
beforeEach(async () => {
  fx = new Fixture(100 + Math.floor(Math.random() * 90));
  fx.datapath = datapath;
  await fx.setup();
});
afterEach(async () => {
  await fx.cleanup();
});

it('100 attach/detach cycles leave no veth, IP allocation, cache entry or iptables rule', async () => {
  const rulesBefore = await ourRules(fx.tag);
  const linksBefore = await links();
  const m = await fx.manager();
  const net = await m.createNetwork('cyc', { subnet: fx.subnet(0 + 1) });
  const [, path] = await fx.ns('cyc');
  const rulesWithNetwork = await ourRules(fx.tag);
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    const a = await m.attach(`cyc${i}`, path, 'cyc', { name: `c${i}`, ports: i % 2 ? ['80', '53/udp'] : [] });
    expect(a.ip).toMatch(/^10\.213\./);
    await m.detach(`cyc${i}`);
  }
  const perCycle = (performance.now() - t0) / 100;
  console.log(`${datapath}: attach+detach cycle: ${perCycle.toFixed(1)} ms (half of them with 2 published ports)`);
  expect((await sh('ip', ['-o', 'link', 'show', 'master', net.bridge])).stdout.trim()).toBe('');
  const alloc = (await readdir(join(fx.dir, 'ipam', 'cyc'))).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  expect(alloc).toEqual([]);
  expect(await readdir(join(fx.dir, 'cache', 'results')).catch(() => [])).toEqual([]);
  expect(await ourRules(fx.tag)).toEqual(rulesWithNetwork);
  expect(await links()).toEqual([...linksBefore, net.bridge, `bt-d${fx.tag}`].sort());

  await m.removeNetwork('cyc');
  await m.purge();
  expect(await ourRules(fx.tag)).toEqual(rulesBefore);
  expect(await links()).toEqual(linksBefore);
});
});
