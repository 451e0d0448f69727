// v1 memory controller: limit_in_bytes, memsw.limit_in_bytes (memory+swap, the
// OCI swap semantics verbatim), soft_limit_in_bytes, swappiness, oom_control;
// usage and memory.stat for statistics.
import { FailedPreconditionError } from '@berth/errors';
import type { LinuxMemory } from '../resources';
import type { CgroupLimits, MemoryStats } from '../stats';
import { writeCgroupFile, readNumber, readOptionalNumber, readFlatKeyed, existsSync } from '../cgroupfs';
import { join } from 'node:path';

const finite = (n: number | undefined): number => (n === undefined || !Number.isFinite(n) ? 0 : n);

export function applyMemoryV1(dir: string, mem: LinuxMemory): void {
  const limit = mem.limit || undefined;
  let swap = mem.swap || undefined;
  // runc: an unlimited memory with no swap given means unlimited memory+swap too.
  if (limit === -1 && swap === undefined && existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) swap = -1;
  if (swap !== undefined && !existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) {
    throw new FailedPreconditionError(
      'memory.swap: this kernel does not account swap (no memory.memsw.limit_in_bytes; boot with swapaccount=1), so a swap limit cannot be set',
      { field: 'memory.swap' },
    );
  }
  if (limit !== undefined && swap !== undefined) {
    // The kernel keeps limit <= memsw at every instant, so the order of the two
    // writes depends on whether memory+swap grows or shrinks (runc does this too).
    const current = readNumber(dir, 'memory.limit_in_bytes');
    if (swap === -1 || current < swap) {
      writeCgroupFile(dir, 'memory.memsw.limit_in_bytes', String(swap));
      writeCgroupFile(dir, 'memory.limit_in_bytes', String(limit));
    } else {
      writeCgroupFile(dir, 'memory.limit_in_bytes', String(limit));
      writeCgroupFile(dir, 'memory.memsw.limit_in_bytes', String(swap));
    }
  } else if (limit !== undefined) {
    writeCgroupFile(dir, 'memory.limit_in_bytes', String(limit));
  } else if (swap !== undefined) {
    writeCgroupFile(dir, 'memory.memsw.limit_in_bytes', String(swap));
  }
  if (mem.reservation !== undefined) writeCgroupFile(dir, 'memory.soft_limit_in_bytes', String(mem.reservation));
  if (mem.swappiness !== undefined) writeCgroupFile(dir, 'memory.swappiness', String(mem.swappiness));
  if (mem.disableOOMKiller !== undefined) writeCgroupFile(dir, 'memory.oom_control', mem.disableOOMKiller ? '1' : '0');
}

export function readMemoryStatsV1(dir: string): MemoryStats {
  const usage = readNumber(dir, 'memory.usage_in_bytes');
  const s = readFlatKeyed(dir, 'memory.stat');
  // total_* include descendants (use_hierarchy is always on in modern kernels).
  const get = (k: string) => s.get(`total_${k}`) ?? s.get(k) ?? 0;
  const memsw = readOptionalNumber(dir, 'memory.memsw.usage_in_bytes');
  const inactiveFile = get('inactive_file');
  return {
    usage,
    maxUsage: finite(readOptionalNumber(dir, 'memory.max_usage_in_bytes')),
    failcnt: finite(readOptionalNumber(dir, 'memory.failcnt')),
    limit: finite(readNumber(dir, 'memory.limit_in_bytes')),
    rss: get('rss'),
    cache: get('cache'),
    // cAdvisor on v1: swap = memsw usage - memory usage.
    swap: memsw === undefined ? get('swap') : Math.max(0, memsw - usage),
    mappedFile: get('mapped_file'),
    inactiveFile,
    workingSet: Math.max(0, usage - inactiveFile),
  };
}

export function readMemoryLimitsV1(dir: string): Pick<CgroupLimits, 'memoryLimit' | 'memoryReservation'> {
  return {
    memoryLimit: finite(readOptionalNumber(dir, 'memory.limit_in_bytes')),
    memoryReservation: finite(readOptionalNumber(dir, 'memory.soft_limit_in_bytes')),
  };
}

/** memory.oom_control's oom_kill counter (4.13+); undefined on kernels without it. */
export function readOomKillsV1(dir: string): number | undefined {
  return readFlatKeyed(dir, 'memory.oom_control').get('oom_kill');
}
