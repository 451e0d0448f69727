// Per-container Prometheus series with cAdvisor's names, types, HELP text and
// the kubelet's label set, read from the cgroup files at scrape time.
//
// Each series is a small object prom-client's Registry accepts (name, help,
// type, get()); Registry.metrics() calls every get() in the same tick, so one
// snapshot of all containers is taken per scrape and shared by every series.
//
// Labels on every series: id (cgroup path, "/berth/<id>"), name, image, and
// the kubelet's container, pod, namespace (from the io.kubernetes.* labels;
// empty when unknown), plus container_label_<sanitized key> for every
// container label key any container has (empty where a container lacks it,
// as cAdvisor does so every series of a metric has the same label names).
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import type { CgroupsManager, CgroupInfo, ContainerStats } from './manager';

type MetricType = 'counter' | 'gauge';
type Labels = Record<string, string>;
interface Sample {
  value: number;
  labels: Labels;
}
interface Snapshot {
  containers: { info: CgroupInfo; stats: ContainerStats; labels: Labels }[];
  now: number;
}

interface SeriesDef {
  name: string;
  help: string;
  type: MetricType;
  values: (c: Snapshot['containers'][number], now: number) => { value: number; extra?: Labels }[];
}

const one = (value: number) => [{ value }];
const NS = 1e9;

const deviceNames = new Map<string, string>();
/** "/dev/vda" for 254:0, from sysfs; "254:0" when the kernel does not say. */
export function deviceName(major: number, minor: number): string {
  const key = `${major}:${minor}`;
  let name = deviceNames.get(key);
  if (name === undefined) {
    try {
      const m = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${key}/uevent`, 'utf8'));
      name = m ? `/dev/${m[1]}` : key;
    } catch {
      name = key;
    }
    deviceNames.set(key, name);
  }
  return name;
}

const perDevice = (pick: (d: ContainerStats['blkio'][number]) => number) => (c: Snapshot['containers'][number]) =>
  c.stats.blkio.map((d) => ({ value: pick(d), extra: { device: deviceName(d.major, d.minor) } }));

/** The series, with cAdvisor's HELP text (metrics/prometheus.go) verbatim. */
export const SERIES: SeriesDef[] = [
  { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed in seconds.', type: 'counter', values: (c) => [{ value: c.stats.cpu.usageTotalNs / NS, extra: { cpu: 'total' } }] },
  { name: 'container_cpu_user_seconds_total', help: 'Cumulative user cpu time consumed in seconds.', type: 'counter', values: (c) => one(c.stats.cpu.usageUserNs / NS) },
  { name: 'container_cpu_system_seconds_total', help: 'Cumulative system cpu time consumed in seconds.', type: 'counter', values: (c) => one(c.stats.cpu.usageSystemNs / NS) },
  { name: 'container_cpu_cfs_periods_total', help: 'Number of elapsed enforcement period intervals.', type: 'counter', values: (c) => one(c.stats.cpu.periods) },
  { name: 'container_cpu_cfs_throttled_periods_total', help: 'Number of throttled period intervals.', type: 'counter', values: (c) => one(c.stats.cpu.throttledPeriods) },
  { name: 'container_cpu_cfs_throttled_seconds_total', help: 'Total time duration the container has been throttled.', type: 'counter', values: (c) => one(c.stats.cpu.throttledTimeNs / NS) },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed', type: 'gauge', values: (c) => one(c.stats.memory.usage) },
  { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', type: 'gauge', values: (c) => one(c.stats.memory.workingSet) },
  { name: 'container_memory_rss', help: 'Size of RSS in bytes.', type: 'gauge', values: (c) => one(c.stats.memory.rss) },
  { name: 'container_memory_cache', help: 'Number of bytes of page cache memory.', type: 'gauge', values: (c) => one(c.stats.memory.cache) },
  { name: 'container_memory_swap', help: 'Container swap usage in bytes.', type: 'gauge', values: (c) => one(c.stats.memory.swap) },
  { name: 'container_memory_mapped_file', help: 'Size of memory mapped files in bytes.', type: 'gauge', values: (c) => one(c.stats.memory.mappedFile) },
  { name: 'container_memory_failcnt', help: 'Number of memory usage hits limits', type: 'counter', values: (c) => one(c.stats.memory.failcnt) },
  { name: 'container_memory_max_usage_bytes', help: 'Maximum memory usage recorded in bytes', type: 'gauge', values: (c) => one(c.stats.memory.maxUsage) },
  { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.', type: 'gauge', values: (c) => one(c.stats.limits.memoryLimit) },
  { name: 'container_spec_memory_reservation_limit_bytes', help: 'Memory reservation limit for the container.', type: 'gauge', values: (c) => one(c.stats.limits.memoryReservation) },
  // cAdvisor emits the quota series only when a quota is set.
  { name: 'container_spec_cpu_quota', help: 'CPU quota of the container.', type: 'gauge', values: (c) => (c.stats.limits.cpuQuota > 0 ? one(c.stats.limits.cpuQuota) : []) },
  { name: 'container_spec_cpu_period', help: 'CPU period of the container.', type: 'gauge', values: (c) => one(c.stats.limits.cpuPeriod) },
  { name: 'container_spec_cpu_shares', help: 'CPU share of the container.', type: 'gauge', values: (c) => one(c.stats.limits.cpuShares) },
  { name: 'container_fs_reads_bytes_total', help: 'Cumulative count of bytes read', type: 'counter', values: perDevice((d) => d.readBytes) },
  { name: 'container_fs_writes_bytes_total', help: 'Cumulative count of bytes written', type: 'counter', values: perDevice((d) => d.writeBytes) },
  { name: 'container_fs_reads_total', help: 'Cumulative count of reads completed', type: 'counter', values: perDevice((d) => d.reads) },
  { name: 'container_fs_writes_total', help: 'Cumulative count of writes completed', type: 'counter', values: perDevice((d) => d.writes) },
  { name: 'container_oom_events_total', help: 'Count of out of memory events observed for the container', type: 'counter', values: (c) => one(c.stats.oomKills) },
  { name: 'container_processes', help: 'Number of processes running inside the container.', type: 'gauge', values: (c) => one(c.stats.processes) },
  { name: 'container_threads', help: 'Number of threads running inside the container', type: 'gauge', values: (c) => one(c.stats.threads) },
  { name: 'container_start_time_seconds', help: 'Start time of the container since unix epoch in seconds.', type: 'gauge', values: (c) => one(c.info.createdAt / 1000) },
  { name: 'container_last_seen', help: 'Last time a container was seen by the exporter', type: 'gauge', values: (_c, now) => one(Math.floor(now / 1000)) },
];

/** A label key as Prometheus allows it: [a-zA-Z0-9_], as cAdvisor's SanitizeLabelName. */
export function sanitizeLabelName(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, '_');
}

function baseLabels(info: CgroupInfo, labelKeys: string[]): Labels {
  const l = info.labels;
  const out: Labels = {
    container: l['io.kubernetes.container.name'] ?? '',
    id: `/${info.path}`,
    image: info.image,
    name: info.name,
    namespace: l['io.kubernetes.pod.namespace'] ?? '',
    pod: l['io.kubernetes.pod.name'] ?? '',
  };
  const byKey = new Map(Object.entries(l).map(([k, v]) => [sanitizeLabelName(k), v]));
  for (const k of labelKeys) out[`container_label_${k}`] = byKey.get(k) ?? '';
  return out;
}

/**
 * The collector. `register(registry)` adds one prom-client metric per series;
 * each scrape reads every container's cgroup once. Containers that vanish
 * mid-scrape are skipped.
 */
export class CgroupMetricsCollector {
  private pending: Promise<Snapshot> | undefined;

  constructor(private readonly manager: CgroupsManager) {}

  private snapshot(): Promise<Snapshot> {
    if (!this.pending) {
      this.pending = this.take().finally(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }

  private async take(): Promise<Snapshot> {
    const infos = this.manager.list();
    const labelKeys = [...new Set(infos.flatMap((i) => Object.keys(i.labels).map(sanitizeLabelName)))].sort();
    const containers: Snapshot['containers'] = [];
    for (const info of infos) {
      try {
        containers.push({ info, stats: await this.manager.stats(info.id), labels: baseLabels(info, labelKeys) });
      } catch {
        // Deleted between list and read: it is simply not in this scrape.
      }
    }
    return { containers, now: Date.now() };
  }

  /** Registers every series on `registry` (prom-client Registry). */
  register(registry: Registry): void {
    for (const def of SERIES) {
      const metric = {
        name: def.name,
        help: def.help,
        type: def.type,
        aggregator: 'sum' as const,
        get: async () => {
          const snap = await this.snapshot();
          const values: Sample[] = [];
          for (const c of snap.containers) {
            for (const v of def.values(c, snap.now)) values.push({ value: v.value, labels: { ...c.labels, ...(v.extra ?? {}) } });
          }
          return { name: def.name, help: def.help, type: def.type, aggregator: 'sum', values };
        },
        reset: () => undefined,
      };
      registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
    }
  }
}
