// V2Driver: the unified hierarchy. A berth cgroup "b/x" is <root>/b/x; the
// controllers it needs must be enabled in cgroup.subtree_control of every
// ancestor (the "top-down constraint" of cgroup-v2.rst), which create() does,
// adding only what the ancestor's cgroup.controllers offers. Those ancestor
// subtree_control writes are the only writes outside berth's parent: v2 cannot
// delegate a controller to a subtree any other way.
import { join, dirname, relative } from 'node:path';
import { FailedPreconditionError } from '@berth/errors';
import type { CgroupDriver, OomWatch } from '../driver';
import type { LinuxResources } from '../resources';
import type { CgroupLimits, CgroupStats } from '../stats';
import { childDirs, existsSync, joinCgroup, mkdirp, readNumber, readOptional, readPids, removeCgroupTree, writeCgroupFile } from '../cgroupfs';
import { applyCpuV2, readCpuLimitsV2, readCpuStatsV2 } from './cpu';
import { applyCpusetV2 } from './cpuset';
import { applyMemoryV2, readMemoryLimitsV2, readMemoryStatsV2, readOomKillsV2 } from './memory';
import { applyPidsV2, readPidsStatsV2 } from './pids';
import { applyIoV2, readIoV2 } from './io';
import { freezeV2, isFrozenV2, thawV2 } from './freezer';
import { watchMemoryEvents } from './oom-watch';
import { applyDevicesV2 } from './devices';

/** Controllers berth delegates to its cgroups, in the order they are enabled. */
export const V2_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'pids'] as const;

export interface V2DriverOptions {
  /** The cgroup2 mount (normally /sys/fs/cgroup; a temp tree in tests). */
  root: string;
}

export class V2Driver implements CgroupDriver {
  readonly version = 'v2' as const;
  readonly root: string;

  constructor(opts: V2DriverOptions) {
    this.root = opts.root;
  }

  dir(path: string): string {
    return join(this.root, path);
  }

  directories(path: string): string[] {
    return [this.dir(path)];
  }

  async create(path: string): Promise<void> {
    const target = this.dir(path);
    // Ancestors from the root down to the new cgroup's parent.
    const ancestors: string[] = [];
    for (let d = dirname(target); ; d = dirname(d)) {
      ancestors.unshift(d);
      if (d === this.root || !d.startsWith(this.root)) break;
    }
    for (const a of ancestors) {
      mkdirp(a);
      this.enableControllers(a);
    }
    mkdirp(target);
  }

  /** Adds berth's controllers to `dir`'s cgroup.subtree_control where offered and not yet on. */
  private enableControllers(dir: string): void {
    const available = (readOptional(dir, 'cgroup.controllers') ?? '').trim().split(/\s+/);
    const enabled = new Set((readOptional(dir, 'cgroup.subtree_control') ?? '').trim().split(/\s+/));
    for (const c of V2_CONTROLLERS) {
      if (available.includes(c) && !enabled.has(c)) writeCgroupFile(dir, 'cgroup.subtree_control', `+${c}`);
    }
  }

  private requireController(path: string, controller: string, field: string): string {
    const dir = this.dir(path);
    const have = (readOptional(dir, 'cgroup.controllers') ?? '').trim().split(/\s+/);
    if (!have.includes(controller)) {
      throw new FailedPreconditionError(
        `${field}: the cgroup v2 "${controller}" controller is not enabled for ${relative(this.root, dir)} (not offered by the parent's cgroup.controllers)`,
        { field },
      );
    }
    return dir;
  }

  async apply(path: string, res: LinuxResources): Promise<void> {
    if (res.cpu) {
      if (res.cpu.shares || res.cpu.quota || res.cpu.period) applyCpuV2(this.requireController(path, 'cpu', 'cpu'), res.cpu);
      if (res.cpu.cpus || res.cpu.mems) applyCpusetV2(this.requireController(path, 'cpuset', 'cpu.cpus'), res.cpu);
    }
    if (res.memory) applyMemoryV2(this.requireController(path, 'memory', 'memory'), res.memory);
    if (res.pids) applyPidsV2(this.requireController(path, 'pids', 'pids.limit'), res.pids);
    if (res.blockIO) applyIoV2(this.requireController(path, 'io', 'blockIO'), res.blockIO);
    // Not a controller: an eBPF program attached to the directory (v2/devices.ts).
    if (res.devices) applyDevicesV2(this.dir(path), res.devices);
  }

  async addProcess(path: string, pid: number): Promise<void> {
    await joinCgroup(this.dir(path), pid);
  }

  async processes(path: string): Promise<number[]> {
    return [...new Set(readPids(this.dir(path)))].sort((a, b) => a - b);
  }

  async freeze(path: string, timeoutMs: number): Promise<void> {
    await freezeV2(this.dir(path), timeoutMs);
  }

  async thaw(path: string): Promise<void> {
    await thawV2(this.dir(path));
  }

  async isFrozen(path: string): Promise<boolean> {
    return isFrozenV2(this.dir(path));
  }

  async stats(path: string): Promise<CgroupStats> {
    const dir = this.dir(path);
    const pids = existsSync(join(dir, 'pids.current')) ? readPidsStatsV2(dir) : { current: 0, limit: 0 };
    const threads = pids.current || readPids(dir, 'cgroup.threads').length;
    return {
      cpu: readCpuStatsV2(dir),
      memory: existsSync(join(dir, 'memory.current')) ? readMemoryStatsV2(dir) : emptyMemory(),
      pids,
      blkio: readIoV2(dir),
      processes: readPids(dir).length,
      threads,
    };
  }

  async limits(path: string): Promise<CgroupLimits> {
    const dir = this.dir(path);
    return { ...readMemoryLimitsV2(dir), ...readCpuLimitsV2(dir) };
  }

  async usage(path: string): Promise<{ memory: number; pids: number }> {
    const dir = this.dir(path);
    return {
      memory: existsSync(join(dir, 'memory.current')) ? readNumber(dir, 'memory.current') : 0,
      pids: existsSync(join(dir, 'pids.current')) ? readNumber(dir, 'pids.current') : 0,
    };
  }

  async oomKillCount(path: string): Promise<number> {
    return readOomKillsV2(this.dir(path));
  }

  async watchOom(path: string, onOom: (newKills: number) => void): Promise<OomWatch> {
    return watchMemoryEvents(this.dir(path), onOom);
  }

  async killViaKernel(path: string): Promise<boolean> {
    const dir = this.dir(path);
    if (!existsSync(join(dir, 'cgroup.kill'))) return false;
    writeCgroupFile(dir, 'cgroup.kill', '1');
    return true;
  }

  async remove(path: string): Promise<void> {
    await removeCgroupTree(this.dir(path));
  }

  async exists(path: string): Promise<boolean> {
    return existsSync(this.dir(path));
  }

  async children(path: string): Promise<string[]> {
    return childDirs(this.dir(path)).sort();
  }
}

function emptyMemory() {
  return { usage: 0, maxUsage: 0, failcnt: 0, limit: 0, rss: 0, cache: 0, swap: 0, mappedFile: 0, inactiveFile: 0, workingSet: 0 };
}
