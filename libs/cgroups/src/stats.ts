// CgroupStats: one reading of a cgroup's counters, in the units Prometheus and
// cAdvisor use (nanoseconds for CPU time, bytes for memory). Both drivers fill
// the same shape; fields a hierarchy cannot report are 0 and named in docs.

export interface CpuStats {
  /** Total CPU time consumed, nanoseconds (v1 cpuacct.usage, v2 cpu.stat usage_usec). */
  usageTotalNs: number;
  /** User-mode CPU time, nanoseconds. */
  usageUserNs: number;
  /** Kernel-mode CPU time, nanoseconds. */
  usageSystemNs: number;
  /** CFS enforcement periods elapsed (cpu.stat nr_periods). */
  periods: number;
  /** Periods in which the cgroup was throttled (nr_throttled). */
  throttledPeriods: number;
  /** Total time throttled, nanoseconds. */
  throttledTimeNs: number;
}

export interface MemoryStats {
  /** Current usage in bytes, page cache included (memory.usage_in_bytes / memory.current). */
  usage: number;
  /** Peak usage in bytes (memory.max_usage_in_bytes / memory.peak; 0 when the kernel has no peak file). */
  maxUsage: number;
  /** Times usage hit the limit (v1 memory.failcnt; v2 memory.events "max"). */
  failcnt: number;
  /** Effective hard limit in bytes; 0 = unlimited. */
  limit: number;
  /** Anonymous memory and swap cache (v1 total_rss, v2 anon). */
  rss: number;
  /** Page cache (v1 total_cache, v2 file). */
  cache: number;
  /** Swap in use, bytes (v1 memsw.usage - usage; v2 memory.swap.current). */
  swap: number;
  /** Memory-mapped file pages (v1 total_mapped_file, v2 file_mapped). */
  mappedFile: number;
  /** Inactive page cache (v1 total_inactive_file, v2 inactive_file). */
  inactiveFile: number;
  /** cAdvisor's working set: usage - inactive_file, floored at 0; what the kubelet evicts on. */
  workingSet: number;
}

export interface PidsStats {
  /** Tasks (threads) counted by the pids controller. */
  current: number;
  /** pids.max; 0 = unlimited. */
  limit: number;
}

export interface BlkioDeviceStats {
  major: number;
  minor: number;
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
}

export interface CgroupStats {
  cpu: CpuStats;
  memory: MemoryStats;
  pids: PidsStats;
  /** Per block device I/O, bytes and operations (v1 blkio, v2 io.stat). */
  blkio: BlkioDeviceStats[];
  /** Processes (thread-group leaders) in the cgroup. */
  processes: number;
  /** Threads in the cgroup. */
  threads: number;
}

/** The limits currently in force, read back from the kernel (for container_spec_* series). */
export interface CgroupLimits {
  /** Bytes; 0 = unlimited. */
  memoryLimit: number;
  /** Bytes; 0 = none. */
  memoryReservation: number;
  /** Microseconds per period; -1 = unlimited. */
  cpuQuota: number;
  /** Microseconds. */
  cpuPeriod: number;
  /** On the cpu.shares scale (v2 weight converted back). */
  cpuShares: number;
}
