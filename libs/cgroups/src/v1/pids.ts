// v1 pids controller: pids.max ("max" = unlimited) and pids.current.
import type { LinuxPids } from '../resources';
import type { PidsStats } from '../stats';
import { writeCgroupFile, readOptionalNumber } from '../cgroupfs';

export function pidsLimitValue(pids: LinuxPids): string {
  return pids.limit > 0 ? String(pids.limit) : 'max';
}

export function applyPids(dir: string, pids: LinuxPids): void {
  writeCgroupFile(dir, 'pids.max', pidsLimitValue(pids));
}

/** Shared by v1 and v2: the files are the same. */
export function readPidsStats(dir: string): PidsStats {
  const limit = readOptionalNumber(dir, 'pids.max') ?? Infinity;
  return { current: readOptionalNumber(dir, 'pids.current') ?? 0, limit: Number.isFinite(limit) ? limit : 0 };
}
