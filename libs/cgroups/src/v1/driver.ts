// V1Driver: cgroup v1, one hierarchy per controller. A berth cgroup "b/x" is
// the directory b/x under every controller's mount point; co-mounted
// controllers (cpu,cpuacct on many distros) share one directory, which is
// written once. Per-controller logic lives in the sibling files.
import { join, dirname } from 'node:path';
import { FailedPreconditionError, fromNodeError } from '@berth/errors';
import type { CgroupDriver, OomWatch } from '../driver';
import type { V1Controller } from '../layout';
import type { LinuxResources } from '../resources';
import type { CgroupLimits, CgroupStats } from '../stats';
import { childDirs, existsSync, joinCgroup, mkdirp, readNumber, readPids, removeCgroupTree } from '../cgroupfs';
import { applyCpuV1, readCpuLimitsV1, readCpuThrottlingV1 } from './cpu';
import { readCpuUsageV1 } from './cpuacct';
import { applyCpusetV1, inheritCpusetV1 } from './cpuset';
import { applyMemoryV1, readMemoryLimitsV1, readMemoryStatsV1, readOomKillsV1 } from './memory';
import { applyPids, readPidsStats } from './pids';
import { applyBlkioV1, primeThrottleAccounting, readBlkioV1 } from './blkio';
import { freezeV1, freezerStateV1, thawV1 } from './freezer';
import { applyDevicesV1 } from './devices';
import { OomEventLoop, oomEventLoop } from './oom-notifier';

/** Delays after an OOM notification at which oom_kill is read again (see watchOom). */
const OOM_RECHECK_MS = [10, 30, 100, 300, 1000];

export interface V1DriverOptions {
  /** Mount point per controller (from detectCgroupLayout, or a temp tree in tests). */
  mounts: Partial<Record<V1Controller, string>>;
  /** OOM event loop to use (tests may pass their own). */
  oomLoop?: OomEventLoop;
}

export class V1Driver implements CgroupDriver {
  readonly version = 'v1' as const;
  private readonly mounts: Partial<Record<V1Controller, string>>;
  private readonly oomLoop: OomEventLoop;
  /** blkio statistics files this hierarchy lacks (see readBlkioV1). */
  private readonly blkioMissing = new Set<string>();

  constructor(opts: V1DriverOptions) {
    this.mounts = opts.mounts;
    this.oomLoop = opts.oomLoop ?? oomEventLoop;
    for (const c of ['memory', 'cpuacct', 'freezer'] as const) {
      if (!this.mounts[c]) throw new FailedPreconditionError(`cgroup v1 controller "${c}" is not mounted; berth needs it`);
    }
  }

  /** Directory of `path` in one controller's hierarchy; undefined when that controller is not mounted. */
  dir(controller: V1Controller, path: string): string | undefined {
    const m = this.mounts[controller];
    return m === undefined ? undefined : join(m, path);
  }

  private must(controller: V1Controller, path: string): string {
    const d = this.dir(controller, path);
    if (!d) throw new FailedPreconditionError(`cgroup v1 controller "${controller}" is not mounted on this host`);
    return d;
  }

  directories(path: string): string[] {
    return [...new Set(Object.values(this.mounts))].map((m) => join(m, path));
  }

  async create(path: string): Promise<void> {
    for (const dir of this.directories(path)) mkdirp(dir);
    const cpusetDir = this.dir('cpuset', path);
    if (cpusetDir) {
      // Every level from the top of berth's tree down needs cpus/mems before a
      // task can join; walk down from the first ancestor under the mount.
      const root = this.mounts.cpuset!;
      const levels: string[] = [];
      for (let d = cpusetDir; d !== root && d.startsWith(root); d = dirname(d)) levels.unshift(d);
      for (const d of levels) inheritCpusetV1(d);
    }
    const blkioDir = this.dir('blkio', path);
    if (blkioDir && dirname(blkioDir) !== this.mounts.blkio) primeThrottleAccounting(dirname(blkioDir));
  }

  async apply(path: string, res: LinuxResources): Promise<void> {
    if (res.cpu) {
      if (res.cpu.shares || res.cpu.quota || res.cpu.period) applyCpuV1(this.must('cpu', path), res.cpu);
      if (res.cpu.cpus || res.cpu.mems) applyCpusetV1(this.must('cpuset', path), res.cpu);
    }
    if (res.memory) applyMemoryV1(this.must('memory', path), res.memory);
    if (res.pids) applyPids(this.must('pids', path), res.pids);
    if (res.blockIO) applyBlkioV1(this.must('blkio', path), res.blockIO);
    if (res.devices) applyDevicesV1(this.must('devices', path), res.devices);
  }

  async addProcess(path: string, pid: number): Promise<void> {
    for (const dir of this.directories(path)) await joinCgroup(dir, pid);
  }

  async processes(path: string): Promise<number[]> {
    const all = new Set<number>();
    for (const dir of this.directories(path)) for (const p of readPids(dir)) all.add(p);
    return [...all].sort((a, b) => a - b);
  }

  async freeze(path: string, timeoutMs: number): Promise<void> {
    await freezeV1(this.must('freezer', path), timeoutMs);
  }

  async thaw(path: string): Promise<void> {
    await thawV1(this.must('freezer', path));
  }

  async isFrozen(path: string): Promise<boolean> {
    return freezerStateV1(this.must('freezer', path)) !== 'THAWED';
  }

  async stats(path: string): Promise<CgroupStats> {
    const cpuDir = this.dir('cpu', path);
    const pidsDir = this.dir('pids', path);
    const blkioDir = this.dir('blkio', path);
    const memDir = this.must('memory', path);
    const pids = pidsDir ? readPidsStats(pidsDir) : { current: 0, limit: 0 };
    const freezerDir = this.must('freezer', path);
    return {
      cpu: {
        ...readCpuUsageV1(this.must('cpuacct', path)),
        ...(cpuDir ? readCpuThrottlingV1(cpuDir) : { periods: 0, throttledPeriods: 0, throttledTimeNs: 0 }),
      },
      memory: readMemoryStatsV1(memDir),
      pids,
      blkio: blkioDir ? readBlkioV1(blkioDir, this.blkioMissing) : [],
      processes: readPids(freezerDir).length,
      threads: pidsDir ? pids.current : readPids(freezerDir, 'tasks').length,
    };
  }

  async limits(path: string): Promise<CgroupLimits> {
    const cpuDir = this.dir('cpu', path);
    return {
      ...readMemoryLimitsV1(this.must('memory', path)),
      ...(cpuDir ? readCpuLimitsV1(cpuDir) : { cpuQuota: -1, cpuPeriod: 0, cpuShares: 0 }),
    };
  }

  async usage(path: string): Promise<{ memory: number; pids: number }> {
    const pidsDir = this.dir('pids', path);
    return { memory: readNumber(this.must('memory', path), 'memory.usage_in_bytes'), pids: pidsDir ? readPidsStats(pidsDir).current : 0 };
  }

  async oomKillCount(path: string): Promise<number> {
    return readOomKillsV1(this.must('memory', path)) ?? 0;
  }

  async watchOom(path: string, onOom: (newKills: number) => void): Promise<OomWatch> {
    const dir = this.must('memory', path);
    let last = readOomKillsV1(dir);
    const hasCounter = last !== undefined;
    const timers = new Set<NodeJS.Timeout>();
    let closed = false;
    const check = (): void => {
      if (closed) return;
      let now: number | undefined;
      try {
        now = readOomKillsV1(dir);
      } catch {
        return; // removed between the signal and the read
      }
      if (now !== undefined && last !== undefined && now > last) {
        const delta = now - last;
        last = now;
        onOom(delta);
      }
    };
    let watch: { close(): void };
    try {
      watch = this.oomLoop.watch(dir, () => {
        // Kernels before 4.13 have no oom_kill counter: count the notification.
        if (!hasCounter) return onOom(1);
        // The eventfd fires when the cgroup *enters* OOM, before the OOM
        // killer has picked and killed a task, so oom_kill may not have moved
        // yet (seen here: about one time in four). Read now and again over the
        // next second; every increase is reported once.
        check();
        for (const ms of OOM_RECHECK_MS) {
          const t = setTimeout(() => {
            timers.delete(t);
            check();
          }, ms);
          t.unref();
          timers.add(t);
        }
      });
    } catch (e) {
      throw fromNodeError(e, `watch OOM events of ${dir}`);
    }
    return {
      close: () => {
        closed = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        watch.close();
      },
    };
  }

  async killViaKernel(): Promise<boolean> {
    return false; // v1 has no cgroup.kill
  }

  async remove(path: string): Promise<void> {
    for (const dir of this.directories(path)) await removeCgroupTree(dir);
  }

  async exists(path: string): Promise<boolean> {
    return this.directories(path).some((d) => existsSync(d));
  }

  async children(path: string): Promise<string[]> {
    const names = new Set<string>();
    for (const dir of this.directories(path)) for (const c of childDirs(dir)) names.add(c);
    return [...names].sort();
  }
}
