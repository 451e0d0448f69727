// v2 cpu controller: cpu.weight (converted from OCI shares), cpu.max
// ("$QUOTA $PERIOD", quota "max" = unlimited), cpu.stat (usage and throttling
// in microseconds).
import type { LinuxCPU } from '../resources';
import type { CgroupLimits, CpuStats } from '../stats';
import { writeCgroupFile, readOptional, readFlatKeyed } from '../cgroupfs';
import { cpuSharesToWeight } from '../convert';

/** Parses cpu.max: "max 100000" -> {quota: -1, period: 100000}. */
export function parseCpuMax(text: string): { quota: number; period: number } {
  const [q, p] = text.trim().split(/\s+/);
  return { quota: q === 'max' || q === undefined ? -1 : Number(q), period: p === undefined ? 100000 : Number(p) };
}

export function applyCpuV2(dir: string, cpu: LinuxCPU): void {
  if (cpu.shares) writeCgroupFile(dir, 'cpu.weight', String(cpuSharesToWeight(cpu.shares)));
  if (cpu.quota || cpu.period) {
    // cpu.max holds both numbers: keep the half the caller did not set.
    const current = parseCpuMax(readOptional(dir, 'cpu.max') ?? 'max 100000');
    const quota = cpu.quota || current.quota;
    const period = cpu.period || current.period;
    writeCgroupFile(dir, 'cpu.max', `${quota === -1 ? 'max' : quota} ${period}`);
  }
}

export function readCpuStatsV2(dir: string): CpuStats {
  const s = readFlatKeyed(dir, 'cpu.stat');
  const us = (k: string) => (s.get(k) ?? 0) * 1000;
  return {
    usageTotalNs: us('usage_usec'),
    usageUserNs: us('user_usec'),
    usageSystemNs: us('system_usec'),
    periods: s.get('nr_periods') ?? 0,
    throttledPeriods: s.get('nr_throttled') ?? 0,
    throttledTimeNs: us('throttled_usec'),
  };
}

/**
 * cpu.weight back to the shares scale, inverting the quadratic of
 * cpuSharesToWeight, so container_spec_cpu_shares reads the same on v1 and v2.
 */
export function cpuWeightToShares(weight: number): number {
  if (weight <= 1) return 2;
  if (weight >= 10000) return 262144;
  const c = 612 * (Math.log10(weight) + 7 / 34);
  const l = (-125 + Math.sqrt(125 * 125 + 4 * c)) / 2;
  return Math.round(2 ** l);
}

export function readCpuLimitsV2(dir: string): Pick<CgroupLimits, 'cpuQuota' | 'cpuPeriod' | 'cpuShares'> {
  const max = parseCpuMax(readOptional(dir, 'cpu.max') ?? 'max 100000');
  const weight = Number((readOptional(dir, 'cpu.weight') ?? '100').trim());
  return { cpuQuota: max.quota, cpuPeriod: max.period, cpuShares: cpuWeightToShares(weight) };
}
