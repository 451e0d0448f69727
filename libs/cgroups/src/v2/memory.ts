// v2 memory controller: memory.max, memory.low (the reservation),
// memory.swap.max (swap alone, converted from OCI's memory+swap), and the
// counters memory.current / memory.peak / memory.stat / memory.events.
// No swappiness and no OOM-killer switch exist per cgroup in v2.
import { FailedPreconditionError } from '@berth/errors';
import type { LinuxMemory } from '../resources';
import type { CgroupLimits, MemoryStats } from '../stats';
import { writeCgroupFile, readOptional, readOptionalNumber, readFlatKeyed, readNumber, parseNumber, existsSync } from '../cgroupfs';
import { memorySwapToV2 } from '../convert';
import { join } from 'node:path';

const v2Value = (n: number) => (n === -1 ? 'max' : String(n));
const finite = (n: number | undefined): number => (n === undefined || !Number.isFinite(n) ? 0 : n);

export function applyMemoryV2(dir: string, mem: LinuxMemory): void {
  if (mem.swappiness !== undefined) {
    throw new FailedPreconditionError('memory.swappiness: cgroup v2 has no per-cgroup swappiness; leave it unset', { field: 'memory.swappiness' });
  }
  if (mem.disableOOMKiller) {
    throw new FailedPreconditionError('memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer for a cgroup; leave it unset', { field: 'memory.disableOOMKiller' });
  }
  const limit = mem.limit || undefined;
  // An update may change swap alone: convert against the limit in force.
  const limitForSwap = limit ?? (mem.swap ? toOci(parseNumber(readOptional(dir, 'memory.max') ?? 'max')) : undefined);
  const swap = memorySwapToV2(mem.swap || undefined, limitForSwap);
  if (swap !== undefined) {
    if (!existsSync(join(dir, 'memory.swap.max'))) {
      if (mem.swap !== undefined && mem.swap !== -1) {
        throw new FailedPreconditionError('memory.swap: this kernel does not account swap (no memory.swap.max)', { field: 'memory.swap' });
      }
    } else {
      writeCgroupFile(dir, 'memory.swap.max', v2Value(swap));
    }
  }
  if (limit !== undefined) writeCgroupFile(dir, 'memory.max', v2Value(limit));
  // OCI's "no reservation" (-1) is memory.low 0 in v2 (no protection).
  if (mem.reservation !== undefined) writeCgroupFile(dir, 'memory.low', String(mem.reservation === -1 ? 0 : mem.reservation));
}

function toOci(n: number): number {
  return Number.isFinite(n) ? n : -1;
}

export function readMemoryStatsV2(dir: string): MemoryStats {
  const usage = readNumber(dir, 'memory.current');
  const s = readFlatKeyed(dir, 'memory.stat');
  const events = readFlatKeyed(dir, 'memory.events');
  const inactiveFile = s.get('inactive_file') ?? 0;
  return {
    usage,
    // memory.peak exists from 5.19.
    maxUsage: finite(readOptionalNumber(dir, 'memory.peak')),
    // cAdvisor/runc on v2: failcnt is memory.events "max" (times usage hit memory.max).
    failcnt: events.get('max') ?? 0,
    limit: finite(readOptionalNumber(dir, 'memory.max')),
    rss: s.get('anon') ?? 0,
    cache: s.get('file') ?? 0,
    swap: finite(readOptionalNumber(dir, 'memory.swap.current')),
    mappedFile: s.get('file_mapped') ?? 0,
    inactiveFile,
    workingSet: Math.max(0, usage - inactiveFile),
  };
}

export function readMemoryLimitsV2(dir: string): Pick<CgroupLimits, 'memoryLimit' | 'memoryReservation'> {
  return { memoryLimit: finite(readOptionalNumber(dir, 'memory.max')), memoryReservation: finite(readOptionalNumber(dir, 'memory.low')) };
}

/** memory.events oom_kill: processes the OOM killer killed in this cgroup (and, with memory_localevents off, below it). */
export function readOomKillsV2(dir: string): number {
  return readFlatKeyed(dir, 'memory.events').get('oom_kill') ?? 0;
}
