// docker stats arithmetic (cli/command/container/stats_helpers.go), kept in
// the engine so every client shows the same numbers.

/** One raw reading from the cgroups service. */
export interface RawCpuMem {
  /** Cumulative container CPU time, ns. */
  cpuUsageNs: number;
  /** Cumulative host CPU time (all CPUs) at the same moment, ns; /proc/stat based. */
  systemCpuNs: number;
  onlineCpus: number;
  /** memory.current (v2) or memory.usage_in_bytes (v1). */
  memoryUsage: number;
  /** inactive_file (v2) or total_inactive_file (v1): page cache docker subtracts. */
  inactiveFile: number;
}

/**
 * CPU percent between two readings: container delta / system delta x online
 * CPUs x 100 (200% = two CPUs busy). 0 without a previous reading or when the
 * system counter did not move.
 */
export function cpuPercent(prev: RawCpuMem | undefined, cur: RawCpuMem): number {
  if (!prev) return 0;
  const cpuDelta = cur.cpuUsageNs - prev.cpuUsageNs;
  const sysDelta = cur.systemCpuNs - prev.systemCpuNs;
  if (sysDelta <= 0 || cpuDelta < 0) return 0;
  return (cpuDelta / sysDelta) * cur.onlineCpus * 100;
}

/** Memory as docker stats shows it: usage minus inactive page cache, never negative. */
export function memoryUsage(r: RawCpuMem): number {
  return r.inactiveFile < r.memoryUsage ? r.memoryUsage - r.inactiveFile : r.memoryUsage;
}
