// The v1 driver against cgroup-v1-shaped temp trees (testing/fake-cgroup1.ts):
// write order, file formats and parsing, freezer states, and the eventfd OOM
// path end to end through the notifier worker. The host suites exercise v1
// against the real kernel where the host runs v1; these run anywhere.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeEventfd } from '@berth/sys';
import { isFailedPrecondition, rejection } from '@berth/errors';
import { V1Driver, CgroupsManager, parseBytes, oomEventLoop } from '../index';
import { FakeCgroup1 } from '../testing/fake-cgroup1';
import { until, sleep } from '../testing/harness';

let fake: FakeCgroup1;
let driver: V1Driver;
let stateDir: string;
beforeEach(() => {
  fake = new FakeCgroup1();
  driver = new V1Driver({ mounts: fake.mounts });
  stateDir = mkdtempSync(join(tmpdir(), 'berth-cgroups-state-'));
});
afterEach(() => {
  fake.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const MiB = 2 ** 20;

describe('V1Driver file formats (cgroup-v1-shaped temp trees)', () => {
  it('creates the cgroup in every hierarchy and copies cpuset cpus/mems down each new level first', async () => {
    await driver.create('berth/pod/c1');
    for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'freezer'] as const) expect(existsSync(fake.file(c, 'berth/pod/c1'))).toBe(true);
    const cpusetWrites = fake.log().filter((l) => l.startsWith('cpuset/'));
    expect(cpusetWrites).toEqual([
      'cpuset/berth/cpuset.cpus=0-3',
      'cpuset/berth/cpuset.mems=0',
      'cpuset/berth/pod/cpuset.cpus=0-3',
      'cpuset/berth/pod/cpuset.mems=0',
      'cpuset/berth/pod/c1/cpuset.cpus=0-3',
      'cpuset/berth/pod/c1/cpuset.mems=0',
    ]);
    // Levels that already have values are left alone.
    await driver.create('berth/pod/c2');
    expect(fake.log().filter((l) => l.startsWith('cpuset/')).slice(6)).toEqual(['cpuset/berth/pod/c2/cpuset.cpus=0-3', 'cpuset/berth/pod/c2/cpuset.mems=0']);
  });

  it('orders memory and memory+swap writes so limit <= memsw holds at every step (as runc)', async () => {
    await driver.create('b/c');
    const mem = () => fake.log().filter((l) => /memory\.(memsw\.)?limit_in_bytes/.test(l)).map((l) => l.replace('memory/b/c/memory.', ''));
    await driver.apply('b/c', { memory: { limit: 64 * MiB, swap: 96 * MiB } });
    expect(mem()).toEqual([`limit_in_bytes=${64 * MiB}`, `memsw.limit_in_bytes=${96 * MiB}`]);
    // Growing: memsw first.
    await driver.apply('b/c', { memory: { limit: 128 * MiB, swap: 256 * MiB } });
    expect(mem().slice(2)).toEqual([`memsw.limit_in_bytes=${256 * MiB}`, `limit_in_bytes=${128 * MiB}`]);
    // Shrinking: limit first.
    await driver.apply('b/c', { memory: { limit: 32 * MiB, swap: 48 * MiB } });
    expect(mem().slice(4)).toEqual([`limit_in_bytes=${32 * MiB}`, `memsw.limit_in_bytes=${48 * MiB}`]);
    // Unlimited memory with swap unset: memsw unlimited too, written first.
    await driver.apply('b/c', { memory: { limit: -1 } });
    expect(mem().slice(6)).toEqual(['memsw.limit_in_bytes=-1', 'limit_in_bytes=-1']);
  });

  it('writes soft limit, swappiness, the OOM-killer switch, pids, CFS and shares', async () => {
    await driver.create('b/c');
    await driver.apply('b/c', {
      memory: { reservation: 32 * MiB, swappiness: 0, disableOOMKiller: true },
      pids: { limit: 0 },
      cpu: { shares: 512, quota: 50000, period: 100000 },
    });
    expect(fake.read('memory', 'b/c/memory.soft_limit_in_bytes')).toBe(String(32 * MiB));
    expect(fake.read('memory', 'b/c/memory.swappiness')).toBe('0');
    expect(fake.read('memory', 'b/c/memory.oom_control')).toMatch(/^oom_kill_disable 1/);
    expect(fake.read('pids', 'b/c/pids.max')).toBe('max');
    expect(fake.log().filter((l) => l.startsWith('cpu/'))).toEqual(['cpu/b/c/cpu.shares=512', 'cpu/b/c/cpu.cfs_period_us=100000', 'cpu/b/c/cpu.cfs_quota_us=50000']);
  });

  it('writes one throttle rule per device and refuses weights without a proportional scheduler', async () => {
    await driver.create('b/c');
    await driver.apply('b/c', {
      blockIO: {
        throttleReadBpsDevice: [{ major: 254, minor: 0, rate: MiB }],
        throttleWriteIOPSDevice: [
          { major: 254, minor: 0, rate: 100 },
          { major: 8, minor: 0, rate: 50 },
        ],
      },
    });
    expect(fake.read('blkio', 'b/c/blkio.throttle.read_bps_device')).toBe(`254:0 ${MiB}\n`);
    expect(fake.read('blkio', 'b/c/blkio.throttle.write_iops_device')).toBe('254:0 100\n8:0 50\n');
    const e = await rejection(driver.apply('b/c', { blockIO: { weight: 300 } }));
    expect(isFailedPrecondition(e)).toBe(true);
    expect(e.message).toMatch(/^blockIO\.weight: this kernel has neither blkio\.weight nor blkio\.bfq\.weight/);
  });

  it('writes blkio.weight where the kernel has it', async () => {
    fake.close();
    fake = new FakeCgroup1({ cfqWeights: true });
    driver = new V1Driver({ mounts: fake.mounts });
    await driver.create('b/c');
    await driver.apply('b/c', { blockIO: { weight: 300, weightDevice: [{ major: 8, minor: 0, weight: 700 }] } });
    expect(fake.writesTo('blkio', 'b/c/blkio.weight')).toEqual(['300']);
    expect(fake.read('blkio', 'b/c/blkio.weight_device')).toBe('8:0 700\n');
  });

  it('reads cpuacct, cpu.stat, memory (total_* keys, memsw-based swap), pids and blkio into the shared shape', async () => {
    await driver.create('b/c');
    fake.set('cpuacct', 'b/c/cpuacct.usage', '3000000000\n');
    fake.set('cpuacct', 'b/c/cpuacct.usage_user', '2000000000\n');
    fake.set('cpuacct', 'b/c/cpuacct.usage_sys', '1000000000\n');
    fake.set('cpu', 'b/c/cpu.stat', 'nr_periods 30\nnr_throttled 12\nthrottled_time 600000000\n');
    fake.set('memory', 'b/c/memory.usage_in_bytes', '104857600\n');
    fake.set('memory', 'b/c/memory.memsw.usage_in_bytes', '110000000\n');
    fake.set('memory', 'b/c/memory.max_usage_in_bytes', '200000000\n');
    fake.set('memory', 'b/c/memory.failcnt', '7\n');
    fake.set('memory', 'b/c/memory.limit_in_bytes', '268435456\n');
    fake.set('memory', 'b/c/memory.stat', 'cache 1\nrss 2\ntotal_cache 40000000\ntotal_rss 50000000\ntotal_mapped_file 1000000\ntotal_inactive_file 30000000\n');
    fake.set('pids', 'b/c/pids.current', '4\n');
    fake.set('pids', 'b/c/pids.max', '50\n');
    fake.set('freezer', 'b/c/cgroup.procs', '10\n11\n');
    fake.set('blkio', 'b/c/blkio.throttle.io_service_bytes_recursive', '254:0 Read 4096\n254:0 Write 8192\n254:0 Total 12288\nTotal 12288\n');
    fake.set('blkio', 'b/c/blkio.throttle.io_serviced_recursive', '254:0 Read 1\n254:0 Write 2\nTotal 3\n');
    const s = await driver.stats('b/c');
    expect(s.cpu).toEqual({ usageTotalNs: 3e9, usageUserNs: 2e9, usageSystemNs: 1e9, periods: 30, throttledPeriods: 12, throttledTimeNs: 6e8 });
    expect(s.memory).toEqual({
      usage: 104857600,
      maxUsage: 200000000,
      failcnt: 7,
      limit: 268435456,
      rss: 50000000,
      cache: 40000000,
      swap: 110000000 - 104857600,
      mappedFile: 1000000,
      inactiveFile: 30000000,
      workingSet: 104857600 - 30000000,
    });
    expect(s.pids).toEqual({ current: 4, limit: 50 });
    expect(s.processes).toBe(2);
    expect(s.threads).toBe(4);
    expect(s.blkio).toEqual([{ major: 254, minor: 0, readBytes: 4096, writeBytes: 8192, reads: 1, writes: 2 }]);
    // An unlimited v1 limit reads as 0 (unlimited).
    expect((await driver.limits('b/c')).memoryReservation).toBe(0);
  });

  it('freezes through freezer.state, and thaws again when it sticks in FREEZING', async () => {
    await driver.create('b/c');
    await driver.freeze('b/c', 1000);
    expect(await driver.isFrozen('b/c')).toBe(true);
    await driver.thaw('b/c');
    expect(fake.read('freezer', 'b/c/freezer.state').trim()).toBe('THAWED');
    fake.freezeNeverCompletes = true;
    const e = await rejection(driver.freeze('b/c', 150));
    expect(e.code).toBe('DeadlineExceeded');
    const states = fake.writesTo('freezer', 'b/c/freezer.state');
    // FROZEN re-written while waiting (every 10th poll), THAWED at the end.
    expect(states[states.length - 1]).toBe('THAWED');
    expect(states.filter((s) => s === 'FROZEN').length).toBeGreaterThanOrEqual(2);
  });
});

describe('v1 OOM notification through the eventfd and the notifier worker', () => {
  it('reports kills when the eventfd fires, including a counter that moves only after the signal', async () => {
    const seen: [string, number, number][] = [];
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir, onOom: (id, n, total) => seen.push([id, n, total]) });
    try {
      await m.create('c1', { resources: { memory: { limit: parseBytes('32m') } } });
      const efd = fake.registeredEventfd('berth/c1');
      const [eventfdNum, controlFd] = fake.writesTo('memory', 'berth/c1/cgroup.event_control')[0]!.split(' ').map(Number);
      expect(eventfdNum).toBe(efd);
      expect(controlFd).toBeGreaterThan(0);

      fake.setOomKills('berth/c1', 1);
      writeEventfd(efd);
      await until(() => seen.length === 1, 3000, 'the first report');
      expect(seen[0]).toEqual(['c1', 1, 1]);

      // The kernel signals on entering OOM; the kill (and the counter) can come later.
      writeEventfd(efd);
      await sleep(50);
      fake.setOomKills('berth/c1', 3);
      await until(() => seen.length === 2, 3000, 'the late counter to be picked up');
      expect(seen[1]).toEqual(['c1', 2, 3]);
      await sleep(1200); // every re-check has run: no double counting
      expect(seen).toHaveLength(2);
      expect(m.get('c1').oomKills).toBe(3);
    } finally {
      m.close();
    }
  });

  it('stops watching when the cgroup is removed (the kernel signals the eventfd then)', async () => {
    const seen: number[] = [];
    const m = new CgroupsManager({ driver, parent: 'berth', stateDir, onOom: (_id, n) => seen.push(n) });
    try {
      await m.create('c1');
      const efd = fake.registeredEventfd('berth/c1');
      const watching = oomEventLoop.size;
      // Removal behind the manager's back, then the kernel's removal signal.
      await driver.remove('berth/c1');
      writeEventfd(efd);
      await until(() => oomEventLoop.size === watching - 1, 3000, 'the watch to close itself');
      expect(seen).toEqual([]);
      // The fd number is free again and goes to the next cgroup; closing the
      // stale watch (delete below) must not close the new one.
      await m.create('c2');
      expect(fake.registeredEventfd('berth/c2')).toBe(efd);
      await m.delete('c1');
      expect(oomEventLoop.size).toBe(watching);
      fake.setOomKills('berth/c2', 1);
      writeEventfd(efd);
      await until(() => seen.length === 1, 3000, 'the OOM report for c2');
    } finally {
      m.close();
    }
  });
});
