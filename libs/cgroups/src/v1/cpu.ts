// v1 cpu controller: cpu.shares, CFS bandwidth (cpu.cfs_period_us /
// cpu.cfs_quota_us) and throttling counters (cpu.stat).
import type { LinuxCPU } from '../resources';
import type { CgroupLimits, CpuStats } from '../stats';
import { writeCgroupFile, readFlatKeyed, readOptionalNumber } from '../cgroupfs';
import { isInvalidArgument } from '@berth/errors';

export function applyCpuV1(dir: string, cpu: LinuxCPU): void {
  if (cpu.shares) writeCgroupFile(dir, 'cpu.shares', String(cpu.shares));
  const period = cpu.period || undefined;
  const quota = cpu.quota || undefined;
  if (period !== undefined && quota !== undefined) {
    // The kernel checks quota/period as a pair against the parent on each
    // write, so one order can fail where the other succeeds (runc does the same dance).
    try {
      writeCgroupFile(dir, 'cpu.cfs_period_us', String(period));
    } catch (e) {
      if (!isInvalidArgument(e)) throw e;
      writeCgroupFile(dir, 'cpu.cfs_quota_us', String(quota));
      writeCgroupFile(dir, 'cpu.cfs_period_us', String(period));
      return;
    }
    writeCgroupFile(dir, 'cpu.cfs_quota_us', String(quota));
  } else if (period !== undefined) {
    writeCgroupFile(dir, 'cpu.cfs_period_us', String(period));
  } else if (quota !== undefined) {
    writeCgroupFile(dir, 'cpu.cfs_quota_us', String(quota));
  }
}

/** Throttling half of CpuStats (usage comes from cpuacct). */
export function readCpuThrottlingV1(dir: string): Pick<CpuStats, 'periods' | 'throttledPeriods' | 'throttledTimeNs'> {
  const s = readFlatKeyed(dir, 'cpu.stat');
  return { periods: s.get('nr_periods') ?? 0, throttledPeriods: s.get('nr_throttled') ?? 0, throttledTimeNs: s.get('throttled_time') ?? 0 };
}

export function readCpuLimitsV1(dir: string): Pick<CgroupLimits, 'cpuQuota' | 'cpuPeriod' | 'cpuShares'> {
  return {
    cpuQuota: readOptionalNumber(dir, 'cpu.cfs_quota_us') ?? -1,
    cpuPeriod: readOptionalNumber(dir, 'cpu.cfs_period_us') ?? 0,
    cpuShares: readOptionalNumber(dir, 'cpu.shares') ?? 0,
  };
}
