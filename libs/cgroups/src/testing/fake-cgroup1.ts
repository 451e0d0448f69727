// A cgroup-v1-shaped set of directory trees (one "mount" per controller) that
// plays the kernel's part for the v1 driver on hosts without cgroup v1, as
// fake-cgroup2.ts does for v2: new cgroups get their controller's control
// files (cpuset.cpus/mems empty, as the kernel makes them), writes are
// recorded in order, multi-rule files (blkio throttles) and flag files
// (memory.oom_control) answer reads as the kernel would, freezer.state goes
// FROZEN unless told to stick in FREEZING, and directories are emptied before
// the driver's rmdir.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { observeCgroupFs, V1_CONTROLLERS, type CgroupFsEvent, type V1Controller } from '../index';

const UNLIMITED = '9223372036854771712';

function filesFor(c: V1Controller, opts: { cfqWeights: boolean }): Record<string, string> {
  switch (c) {
    case 'cpu':
      return { 'cpu.shares': '1024\n', 'cpu.cfs_period_us': '100000\n', 'cpu.cfs_quota_us': '-1\n', 'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n' };
    case 'cpuacct':
      return { 'cpuacct.usage': '0\n', 'cpuacct.usage_user': '0\n', 'cpuacct.usage_sys': '0\n', 'cpuacct.stat': 'user 0\nsystem 0\n' };
    case 'cpuset':
      return { 'cpuset.cpus': '\n', 'cpuset.mems': '\n' };
    case 'memory':
      return {
        'memory.limit_in_bytes': `${UNLIMITED}\n`,
        'memory.memsw.limit_in_bytes': `${UNLIMITED}\n`,
        'memory.soft_limit_in_bytes': `${UNLIMITED}\n`,
        'memory.usage_in_bytes': '0\n',
        'memory.memsw.usage_in_bytes': '0\n',
        'memory.max_usage_in_bytes': '0\n',
        'memory.failcnt': '0\n',
        'memory.swappiness': '60\n',
        'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
        'memory.stat': 'cache 0\nrss 0\nmapped_file 0\ninactive_file 0\ntotal_cache 0\ntotal_rss 0\ntotal_mapped_file 0\ntotal_inactive_file 0\n',
        'cgroup.event_control': '',
      };
    case 'pids':
      return { 'pids.max': 'max\n', 'pids.current': '0\n' };
    case 'blkio':
      return {
        'blkio.throttle.read_bps_device': '',
        'blkio.throttle.write_bps_device': '',
        'blkio.throttle.read_iops_device': '',
        'blkio.throttle.write_iops_device': '',
        'blkio.throttle.io_service_bytes_recursive': 'Total 0\n',
        'blkio.throttle.io_serviced_recursive': 'Total 0\n',
        ...(opts.cfqWeights ? { 'blkio.weight': '500\n', 'blkio.weight_device': '' } : {}),
      };
    case 'freezer':
      return { 'freezer.state': 'THAWED\n' };
    case 'devices':
      return { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' };
  }
}

export class FakeCgroup1 {
  readonly base = mkdtempSync(join(tmpdir(), 'berth-cgroup1-'));
  readonly mounts: Record<V1Controller, string>;
  readonly writes: { path: string; value: string }[] = [];
  /** When set, FROZEN writes leave freezer.state at FREEZING (a task stuck in D state). */
  freezeNeverCompletes = false;
  private readonly rules = new Map<string, Map<string, string>>();
  private readonly stop: () => void;
  private readonly cfqWeights: boolean;

  constructor(opts: { cfqWeights?: boolean } = {}) {
    this.cfqWeights = opts.cfqWeights ?? false;
    this.mounts = Object.fromEntries(V1_CONTROLLERS.map((c) => [c, join(this.base, c)])) as Record<V1Controller, string>;
    for (const c of V1_CONTROLLERS) {
      mkdirSync(this.mounts[c]);
      this.populate(c, this.mounts[c]);
      writeFileSync(join(this.mounts[c], 'cgroup.procs'), '');
    }
    // The root cpuset has the machine's CPUs and memory nodes.
    writeFileSync(join(this.mounts.cpuset, 'cpuset.cpus'), '0-3\n');
    writeFileSync(join(this.mounts.cpuset, 'cpuset.mems'), '0\n');
    this.stop = observeCgroupFs((e) => this.onEvent(e));
  }

  /** Path of a file in one controller's tree. */
  file(c: V1Controller, rel: string): string {
    return join(this.mounts[c], rel);
  }

  read(c: V1Controller, rel: string): string {
    return readFileSync(this.file(c, rel), 'utf8');
  }

  set(c: V1Controller, rel: string, content: string): void {
    writeFileSync(this.file(c, rel), content);
  }

  /** Writes the driver made to files whose path ends with `suffix` (relative to the base), in order. */
  writesTo(c: V1Controller, rel: string): string[] {
    const p = this.file(c, rel);
    return this.writes.filter((w) => w.path === p).map((w) => w.value);
  }

  /** Every write in order, as "<controller>/<rel path>=<value>". */
  log(): string[] {
    return this.writes.map((w) => `${relative(this.base, w.path)}=${w.value}`);
  }

  close(): void {
    this.stop();
    rmSync(this.base, { recursive: true, force: true });
  }

  private controllerOf(path: string): V1Controller | undefined {
    return V1_CONTROLLERS.find((c) => path === this.mounts[c] || path.startsWith(this.mounts[c] + '/'));
  }

  private populate(c: V1Controller, dir: string): void {
    for (const [f, content] of Object.entries(filesFor(c, { cfqWeights: this.cfqWeights }))) writeFileSync(join(dir, f), content);
    writeFileSync(join(dir, 'cgroup.procs'), '');
    writeFileSync(join(dir, 'tasks'), '');
  }

  private onEvent(e: CgroupFsEvent): void {
    const c = this.controllerOf(e.path);
    if (!c) return;
    if (e.op === 'mkdir') return this.populate(c, e.path);
    if (e.op === 'rmdir') {
      for (const f of readdirSync(e.path)) if (statSync(join(e.path, f)).isFile()) rmSync(join(e.path, f));
      return;
    }
    this.writes.push({ path: e.path, value: e.value });
    const file = e.path.slice(dirname(e.path).length + 1);
    if (file.startsWith('blkio.throttle.') && file.endsWith('_device') || file === 'blkio.weight_device') {
      // The kernel keeps one rule per device; "M:m 0" removes it.
      const [dev, rate] = e.value.trim().split(/\s+/) as [string, string];
      const rules = this.rules.get(e.path) ?? new Map<string, string>();
      if (rate === '0') rules.delete(dev);
      else rules.set(dev, rate);
      this.rules.set(e.path, rules);
      writeFileSync(e.path, [...rules].map(([d, r]) => `${d} ${r}\n`).join(''));
    } else if (file === 'memory.oom_control') {
      const prev = readFileSync(e.path, 'utf8');
      // Only the flag is writable; the counters stay (the write replaced them in the plain file).
      const kills = /oom_kill (\d+)/.exec(this.lastOomControl.get(e.path) ?? prev)?.[1] ?? '0';
      writeFileSync(e.path, `oom_kill_disable ${e.value.trim()}\nunder_oom 0\noom_kill ${kills}\n`);
    } else if (/^memory\.(memsw\.|soft_)?limit_in_bytes$/.test(file) && e.value.trim() === '-1') {
      // The kernel shows "unlimited" as the largest page-aligned value.
      writeFileSync(e.path, `${UNLIMITED}\n`);
    } else if (file === 'freezer.state') {
      const want = e.value.trim();
      writeFileSync(e.path, want === 'FROZEN' && this.freezeNeverCompletes ? 'FREEZING\n' : `${want}\n`);
    }
  }

  private readonly lastOomControl = new Map<string, string>();

  /** Sets oom_kill as the kernel would after OOM kills. */
  setOomKills(rel: string, kills: number): void {
    const p = this.file('memory', join(rel, 'memory.oom_control'));
    const text = readFileSync(p, 'utf8').replace(/oom_kill \d+/, `oom_kill ${kills}`);
    this.lastOomControl.set(p, text);
    writeFileSync(p, text);
  }

  /** The eventfd the driver registered for a memory cgroup (from its cgroup.event_control write). */
  registeredEventfd(rel: string): number {
    const writes = this.writesTo('memory', join(rel, 'cgroup.event_control'));
    const last = writes[writes.length - 1];
    if (!last) throw new Error(`no cgroup.event_control registration for ${rel}`);
    return Number(last.split(' ')[0]);
  }
}
