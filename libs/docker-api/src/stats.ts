// GET /containers/{id}/stats: the engine's ContainerStats in Docker's JSON
// (moby api/types StatsJSON). The docker CLI computes CPU % from the deltas
// of cpu_stats against precpu_stats (container ns over host ns, times
// online CPUs), so both carry the host's CPU time (system_cpu_usage, from
// /proc/stat as Docker reads it) next to the container's.
import { readFileSync } from 'node:fs';
import type { engineV1 } from '@berth/proto';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Host CPU time in ns, the sum of /proc/stat's "cpu" line (Docker's getSystemCPUUsage). */
export function hostCpuNs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    if (!line) return 0;
    const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((a, v) => a + Number(v), 0);
    return (ticks * 1e9) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

interface CpuStats {
  cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage: number;
  online_cpus: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface DockerStats {
  read: string;
  preread: string;
  name: string;
  id: string;
  pids_stats: { current: number };
  blkio_stats: { io_service_bytes_recursive: { major: number; minor: number; op: string; value: number }[] };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage: number; limit: number; stats: Record<string, number> };
  networks: Record<string, { rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number; tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number }>;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const emptyCpu = (): CpuStats => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  system_cpu_usage: 0, online_cpus: 0,
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

/**
 * The previous sample for a first one: the engine's first sample already has
 * its CPU percent (it primes a reading before answering), so precpu is the
 * point from which Docker's formula, (cpu delta / system delta) x online CPUs
 * x 100, gives that percent over one second of host CPU time.
 */
function precpuFor(cpu: CpuStats, cpuPercent: number): CpuStats {
  const systemDelta = 1e9;
  const online = cpu.online_cpus || 1;
  const cpuDelta = Math.round((cpuPercent / 100 / online) * systemDelta);
  return {
    ...emptyCpu(),
    cpu_usage: { total_usage: Math.max(0, cpu.cpu_usage.total_usage - cpuDelta), usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: Math.max(0, cpu.system_cpu_usage - systemDelta),
    online_cpus: cpu.online_cpus,
  };
}

export function dockerStats(s: engineV1.ContainerStats__Output, timeMs: number, systemNs: number, prev?: DockerStats): DockerStats {
  const cpu: CpuStats = {
    ...emptyCpu(),
    cpu_usage: { total_usage: Number(s.cpuUsageNs), usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: systemNs,
    online_cpus: s.onlineCpus,
  };
  return {
    read: new Date(timeMs).toISOString(),
    preread: prev?.read ?? ZERO_TIME,
    // With the leading "/", as Docker: the CLI strips one character.
    name: `/${s.name}`,
    id: s.id,
    pids_stats: { current: Number(s.pids) },
    blkio_stats: {
      io_service_bytes_recursive: [
        { major: 0, minor: 0, op: 'read', value: Number(s.blockRead) },
        { major: 0, minor: 0, op: 'write', value: Number(s.blockWrite) },
      ],
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu,
    precpu_stats: prev?.cpu_stats ?? precpuFor(cpu, s.cpuPercent),
    // usage is already without the page cache (what docker stats shows), so no cache figures to subtract.
    memory_stats: { usage: Number(s.memoryUsage), limit: Number(s.memoryLimit), stats: {} },
    networks: {
      eth0: { rx_bytes: Number(s.netRx), rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_bytes: Number(s.netTx), tx_packets: 0, tx_errors: 0, tx_dropped: 0 },
    },
  };
}
