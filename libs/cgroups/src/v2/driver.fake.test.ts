// The v2 driver against a cgroup2-shaped temp tree (testing/fake-cgroup2.ts):
// file formats, the conversions from OCI's v1-shaped values, controller
// delegation, freezing, OOM counting through memory.events, and the manager on
// top. The development VM runs cgroup v1, so this is where v2 is exercised.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFailedPrecondition, rejection, type BerthError } from '@berth/errors';
import { V2Driver, CgroupsManager, parseBytes } from '../index';
import { FakeCgroup2 } from '../testing/fake-cgroup2';
import { until } from '../testing/harness';

let fake: FakeCgroup2;
let driver: V2Driver;
let stateDir: string;
beforeEach(() => {
  fake = new FakeCgroup2();
  driver = new V2Driver({ root: fake.root });
  stateDir = mkdtempSync(join(tmpdir(), 'berth-cgroups-state-'));
});
afterEach(() => {
  fake.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('V2Driver file formats (cgroup2-shaped temp tree)', () => {
  it('enables cpuset cpu io memory pids in subtree_control of every ancestor, one controller per write', async () => {
    await driver.create('berth/pod/c1');
    expect(fake.writesTo('cgroup.subtree_control')).toEqual(['+cpuset', '+cpu', '+io', '+memory', '+pids']);
    expect(fake.writesTo('berth/cgroup.subtree_control')).toEqual(['+cpuset', '+cpu', '+io', '+memory', '+pids']);
    expect(fake.writesTo('berth/pod/cgroup.subtree_control')).toHaveLength(5);
    expect(fake.read('berth/pod/c1/cgroup.controllers').trim().split(' ').sort()).toEqual(['cpu', 'cpuset', 'io', 'memory', 'pids']);
    // Idempotent: a second create writes nothing new.
    const before = fake.writes.length;
    await driver.create('berth/pod/c1');
    expect(fake.writes.length).toBe(before);
  });

  it('only enables what the root offers, and refuses limits for a missing controller naming it', async () => {
    fake.close();
    fake = new FakeCgroup2({ rootControllers: ['memory', 'pids'] });
    driver = new V2Driver({ root: fake.root });
    await driver.create('berth/c1');
    expect(fake.writesTo('cgroup.subtree_control')).toEqual(['+memory', '+pids']);
    const e = await rejection(driver.apply('berth/c1', { cpu: { shares: 512 } }));
    expect(isFailedPrecondition(e)).toBe(true);
    expect(e.message).toMatch(/"cpu" controller is not enabled/);
  });

  it('cpu: shares -> cpu.weight (1024 -> 100, 2 -> 1, 262144 -> 10000), quota/period -> cpu.max keeping the other half', async () => {
    await driver.create('b/c');
    await driver.apply('b/c', { cpu: { shares: 1024 } });
    expect(fake.read('b/c/cpu.weight')).toBe('100');
    await driver.apply('b/c', { cpu: { shares: 2 } });
    expect(fake.read('b/c/cpu.weight')).toBe('1');
    await driver.apply('b/c', { cpu: { shares: 262144 } });
    expect(fake.read('b/c/cpu.weight')).toBe('10000');
    await driver.apply('b/c', { cpu: { quota: 50000, period: 100000 } });
    expect(fake.read('b/c/cpu.max')).toBe('50000 100000');
    await driver.apply('b/c', { cpu: { period: 200000 } });
    expect(fake.read('b/c/cpu.max')).toBe('50000 200000');
    await driver.apply('b/c', { cpu: { quota: -1 } });
    expect(fake.read('b/c/cpu.max')).toBe('max 200000');
    await driver.apply('b/c', { cpu: { cpus: '0-1', mems: '0' } });
    expect(fake.read('b/c/cpuset.cpus')).toBe('0-1');
    expect(fake.read('b/c/cpuset.mems')).toBe('0');
  });

  it('memory: limit -> memory.max, OCI memory+swap -> memory.swap.max = swap - limit, reservation -> memory.low', async () => {
    await driver.create('b/c');
    await driver.apply('b/c', { memory: { limit: parseBytes('64m'), swap: parseBytes('96m'), reservation: parseBytes('32m') } });
    expect(fake.read('b/c/memory.max')).toBe(String(parseBytes('64m')));
    expect(fake.read('b/c/memory.swap.max')).toBe(String(parseBytes('32m')));
    expect(fake.read('b/c/memory.low')).toBe(String(parseBytes('32m')));
    // swap == limit: no swap at all.
    await driver.apply('b/c', { memory: { limit: parseBytes('64m'), swap: parseBytes('64m') } });
    expect(fake.read('b/c/memory.swap.max')).toBe('0');
    // Unlimited swap, and unlimited memory with swap unset means unlimited swap too (runc).
    await driver.apply('b/c', { memory: { swap: -1 } });
    expect(fake.read('b/c/memory.swap.max')).toBe('max');
    await driver.apply('b/c', { memory: { limit: -1 } });
    expect(fake.read('b/c/memory.max')).toBe('max');
    expect(fake.read('b/c/memory.swap.max')).toBe('max');
    // Swap alone converts against the limit in force.
    await driver.apply('b/c', { memory: { limit: parseBytes('100m') } });
    await driver.apply('b/c', { memory: { swap: parseBytes('150m') } });
    expect(fake.read('b/c/memory.swap.max')).toBe(String(parseBytes('50m')));
    await driver.apply('b/c', { memory: { reservation: -1 } });
    expect(fake.read('b/c/memory.low')).toBe('0');
  });

  it('memory: swappiness and disabling the OOM killer are refused on v2, naming the field', async () => {
    await driver.create('b/c');
    const a = await rejection(driver.apply('b/c', { memory: { swappiness: 10 } }));
    expect(a.field).toBe('memory.swappiness');
    const b = await rejection(driver.apply('b/c', { memory: { disableOOMKiller: true } }));
    expect(b.field).toBe('memory.disableOOMKiller');
  });

  it('pids: limit -> pids.max, 0 and -1 -> max', async () => {
    await driver.create('b/c');
    await driver.apply('b/c', { pids: { limit: 20 } });
    expect(fake.read('b/c/pids.max')).toBe('20');
    await driver.apply('b/c', { pids: { limit: 0 } });
    expect(fake.read('b/c/pids.max')).toBe('max');
    await driver.apply('b/c', { pids: { limit: -1 } });
    expect(fake.read('b/c/pids.max')).toBe('max');
  });

  it('io: blkio weight -> io.weight with runc conversion, per-device throttles merged into io.max lines', async () => {
    await driver.create('b/c');
    await driver.apply('b/c', {
      blockIO: {
        weight: 500,
        weightDevice: [{ major: 8, minor: 0, weight: 10 }],
        throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }],
        throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 0 }],
      },
    });
    expect(fake.writesTo('b/c/io.weight')).toEqual(['default 4950', '8:0 1']);
    expect(fake.writesTo('b/c/io.max')).toEqual(['254:0 rbps=1048576', '8:16 wbps=max', '254:0 wiops=100']);
    expect(fake.read('b/c/io.max')).toBe('254:0 rbps=1048576 wbps=max riops=max wiops=100\n8:16 rbps=max wbps=max riops=max wiops=max\n');
  });

  it('io: with BFQ the blkio weight goes to io.bfq.weight unchanged', async () => {
    fake.close();
    fake = new FakeCgroup2({ bfq: true });
    driver = new V2Driver({ root: fake.root });
    await driver.create('b/c');
    await driver.apply('b/c', { blockIO: { weight: 500 } });
    expect(fake.writesTo('b/c/io.bfq.weight')).toEqual(['500']);
    expect(fake.writesTo('b/c/io.weight')).toEqual([]);
  });

  it('reads cpu.stat, memory.*, io.stat and pids into the shared stats shape', async () => {
    await driver.create('b/c');
    fake.set('b/c/cpu.stat', 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 7\nthrottled_usec 350000\n');
    fake.set('b/c/memory.current', '104857600\n');
    fake.set('b/c/memory.peak', '209715200\n');
    fake.set('b/c/memory.max', '268435456\n');
    fake.set('b/c/memory.low', '67108864\n');
    fake.set('b/c/memory.swap.current', '4096\n');
    fake.set('b/c/memory.events', 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n');
    fake.set('b/c/memory.stat', 'anon 50000000\nfile 40000000\nfile_mapped 1000000\ninactive_file 30000000\nactive_file 10000000\n');
    fake.set('b/c/io.stat', '254:0 rbytes=4096 wbytes=16777216 rios=1 wios=16 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n');
    fake.set('b/c/pids.current', '3\n');
    fake.set('b/c/pids.max', '20\n');
    fake.set('b/c/cgroup.procs', '100\n101\n');
    fake.set('b/c/cpu.max', '50000 100000\n');
    fake.set('b/c/cpu.weight', '100\n');
    const s = await driver.stats('b/c');
    expect(s.cpu).toEqual({ usageTotalNs: 2.5e9, usageUserNs: 2e9, usageSystemNs: 5e8, periods: 40, throttledPeriods: 7, throttledTimeNs: 3.5e8 });
    expect(s.memory).toEqual({
      usage: 104857600,
      maxUsage: 209715200,
      failcnt: 12,
      limit: 268435456,
      rss: 50000000,
      cache: 40000000,
      swap: 4096,
      mappedFile: 1000000,
      inactiveFile: 30000000,
      workingSet: 104857600 - 30000000,
    });
    expect(s.blkio).toEqual([
      { major: 8, minor: 0, readBytes: 1, writeBytes: 2, reads: 3, writes: 4 },
      { major: 254, minor: 0, readBytes: 4096, writeBytes: 16777216, reads: 1, writes: 16 },
    ]);
    expect(s.pids).toEqual({ current: 3, limit: 20 });
    expect(s.processes).toBe(2);
    expect(s.threads).toBe(3);
    expect(await driver.limits('b/c')).toEqual({ memoryLimit: 268435456, memoryReservation: 67108864, cpuQuota: 50000, cpuPeriod: 100000, cpuShares: 1024 });
    expect(await driver.oomKillCount('b/c')).toBe(2);
  });

  it('freezes through cgroup.freeze and waits for cgroup.events frozen', async () => {
    await driver.create('b/c');
    await driver.freeze('b/c', 1000);
    expect(fake.writesTo('b/c/cgroup.freeze')).toEqual(['1']);
    expect(await driver.isFrozen('b/c')).toBe(true);
    await driver.thaw('b/c');
    expect(await driver.isFrozen('b/c')).toBe(false);
  });

  it('gives up freezing after the timeout, thaws again and says so', async () => {
    await driver.create('b/c');
    // A kernel that never reports frozen (a task stuck in D state).
    fake.freezeNeverCompletes = true;
    const e = await rejection(driver.freeze('b/c', 100));
    expect(e.code).toBe('DeadlineExceeded');
    expect(e.message).toMatch(/did not report frozen within 100 ms; thawed it again/);
    expect(fake.writesTo('b/c/cgroup.freeze')).toEqual(['1', '0']);
  });

  it('kills through cgroup.kill and removes the directory', async () => {
    await driver.create('b/c');
    expect(await driver.killViaKernel('b/c')).toBe(true);
    expect(fake.writesTo('b/c/cgroup.kill')).toEqual(['1']);
    await driver.remove('b/c');
    expect(existsSync(join(fake.root, 'b/c'))).toBe(false);
  });
});

describe('CgroupsManager on the v2 driver (temp tree)', () => {
  it('counts OOM kills from memory.events changes, reports each through onOom and keeps the total across restarts', async () => {
    const seen: [string, number, number][] = [];
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir, onOom: (id, n, total) => seen.push([id, n, total]) });
    try {
      await m.create('c1', { resources: { memory: { limit: parseBytes('32m') } } });
      fake.set('berth/c1/memory.events', 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n');
      await until(() => seen.length === 1, 3000, 'the first OOM report');
      fake.set('berth/c1/memory.events', 'low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\noom_group_kill 0\n');
      await until(() => seen.length === 2, 3000, 'the second OOM report');
      expect(seen).toEqual([
        ['c1', 1, 1],
        ['c1', 2, 3],
      ]);
      expect((await m.stats('c1')).oomKills).toBe(3);
    } finally {
      m.close();
    }
    const again = new CgroupsManager({ driver, parent: 'berth', stateDir });
    expect(again.get('c1').oomKills).toBe(3);
    again.close();
  });

  it('refuses a memory limit below current usage with FailedPrecondition naming the field', async () => {
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir });
    try {
      await m.create('c1', { resources: { memory: { limit: parseBytes('256m') } } });
      fake.set('berth/c1/memory.current', `${parseBytes('100m')}\n`);
      const e = await rejection(m.update('c1', { memory: { limit: parseBytes('64m') } }));
      expect(isFailedPrecondition(e)).toBe(true);
      expect(e.field).toBe('memory.limit');
      expect(e.message).toBe("memory.limit: 64 MiB is below the container's current usage of 100 MiB; free memory first or choose a higher limit");
      expect(fake.read('berth/c1/memory.max')).toBe(String(parseBytes('256m')));
      fake.set('berth/c1/pids.current', '30\n');
      const p = await rejection(m.update('c1', { pids: { limit: 20 } }));
      expect(p.field).toBe('pids.limit');
    } finally {
      m.close();
    }
  });

  it('refuses raising the memory limit past a memory+swap limit set earlier unless swap comes along (Docker\'s rule)', async () => {
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir });
    try {
      await m.create('c1', { resources: { memory: { limit: parseBytes('64m'), swap: parseBytes('96m') } } });
      const e = await rejection(m.update('c1', { memory: { limit: parseBytes('128m') } }));
      expect(e.message).toBe('memory.limit: 128 MiB is above the memory+swap limit 96 MiB already set; update memory.swap at the same time');
      const u = await m.update('c1', { memory: { limit: parseBytes('128m'), swap: parseBytes('256m') } });
      expect(u.resources.memory).toEqual({ limit: parseBytes('128m'), swap: parseBytes('256m') });
      expect(fake.read('berth/c1/memory.swap.max')).toBe(String(parseBytes('128m')));
    } finally {
      m.close();
    }
  });

  it('refuses a second create of the same id while the first is still in progress', async () => {
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir });
    try {
      const results = await Promise.allSettled([m.create('same'), m.create('same')]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((rejected.reason as BerthError).code).toBe('AlreadyExists');
    } finally {
      m.close();
    }
  });

  it('reconcile reports a cgroup it cannot empty instead of failing the whole start', async () => {
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir, killTimeoutMs: 200 });
    try {
      await m.create('stuck');
      await m.create('fine');
      // A task the kernel keeps listing (as one stuck in D state would stay).
      fake.set('berth/stuck/cgroup.procs', '2147483646\n');
      const r = await m.reconcile([]);
      expect(r.removed).toEqual(['fine']);
      expect(r.failed.map((f) => f.id)).toEqual(['stuck']);
      expect(r.failed[0]!.reason).toMatch(/still has 1 process/);
      expect(m.list().map((i) => i.id)).toEqual(['stuck']);
    } finally {
      m.close();
    }
  });

  it('a create the kernel (or driver) refuses leaves no directory, watch or record behind', async () => {
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir });
    try {
      const e = await rejection(m.create('bad', { resources: { pids: { limit: 5 }, memory: { swappiness: 10 } } }));
      expect(e.field).toBe('memory.swappiness');
      expect(existsSync(join(fake.root, 'berth/bad'))).toBe(false);
      expect(m.list()).toEqual([]);
      expect(existsSync(join(stateDir, 'bad.json'))).toBe(false);
      // The id is free again.
      await m.create('bad', { resources: { pids: { limit: 5 } } });
    } finally {
      m.close();
    }
  });

  it('deletes an empty cgroup and its record', async () => {
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir });
    try {
      await m.create('c1', { resources: { pids: { limit: 10 } } });
      await m.delete('c1');
      expect(existsSync(join(fake.root, 'berth/c1'))).toBe(false);
      expect(m.list()).toEqual([]);
    } finally {
      m.close();
    }
  });
});
