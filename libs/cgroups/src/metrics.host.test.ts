// The Prometheus collector against real cgroups: the text must parse with a
// strict exposition-format parser and carry cAdvisor's names, types and the
// kubelet's label set, with values read from the kernel at scrape time.
import { describe, it, expect, afterEach, beforeEach } from 'vitest';
import { Registry } from 'prom-client';
import { CgroupMetricsCollector, parseBytes, cpusToQuota } from './index';
import { rmSync } from 'node:fs';
import { Harness, go, until, stderrOf, layout } from './testing/harness';
import { parsePrometheusText } from './testing/prom-parse';

const REQUIRED: [string, 'counter' | 'gauge'][] = [
  ['container_cpu_usage_seconds_total', 'counter'],
  ['container_cpu_user_seconds_total', 'counter'],
  ['container_cpu_system_seconds_total', 'counter'],
  ['container_cpu_cfs_periods_total', 'counter'],
  ['container_cpu_cfs_throttled_periods_total', 'counter'],
  ['container_cpu_cfs_throttled_seconds_total', 'counter'],
  ['container_memory_usage_bytes', 'gauge'],
  ['container_memory_working_set_bytes', 'gauge'],
  ['container_memory_rss', 'gauge'],
  ['container_memory_cache', 'gauge'],
  ['container_memory_swap', 'gauge'],
  ['container_memory_mapped_file', 'gauge'],
  ['container_memory_failcnt', 'counter'],
  ['container_memory_max_usage_bytes', 'gauge'],
  ['container_spec_memory_limit_bytes', 'gauge'],
  ['container_spec_memory_reservation_limit_bytes', 'gauge'],
  ['container_spec_cpu_quota', 'gauge'],
  ['container_spec_cpu_period', 'gauge'],
  ['container_spec_cpu_shares', 'gauge'],
  ['container_fs_reads_bytes_total', 'counter'],
  ['container_fs_writes_bytes_total', 'counter'],
  ['container_fs_reads_total', 'counter'],
  ['container_fs_writes_total', 'counter'],
  ['container_oom_events_total', 'counter'],
  ['container_processes', 'gauge'],
  ['container_threads', 'gauge'],
  ['container_start_time_seconds', 'gauge'],
  ['container_last_seen', 'gauge'],
];

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(async () => {
  await h.cleanup();
});

describe('CgroupMetricsCollector', () => {
  it('exports every cAdvisor series per container with the kubelet label set, parseable by a strict parser', async () => {
    const m = h.manager();
    const before = Date.now() / 1000;
    await m.create('web1', {
      name: 'web',
      image: 'docker.io/library/nginx:1.27',
      labels: { 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'prod', 'io.kubernetes.container.name': 'nginx', 'com.example/tier': 'front "end"' },
      resources: { memory: { limit: parseBytes('128m'), reservation: parseBytes('64m') }, cpu: { ...cpusToQuota(0.5), shares: 512 } },
    });
    await m.create('job1', { name: 'job', image: 'busybox', resources: { pids: { limit: 10 } } });
    const file = `/var/tmp/berth-metrics-${h.parent}`;
    h.onCleanup(() => rmSync(file, { force: true }));
    const c = h.spawn(`read go && { dd if=/dev/zero of=${file} bs=1M count=4 conv=fsync 2>/dev/null; rm -f ${file}; echo written >&2; exec sleep 1000; }`);
    const err = stderrOf(c);
    await m.addProcess('web1', c.pid!);
    go(c);
    await until(() => err().includes('written'), 10000, 'the write to finish');
    await until(async () => (await m.stats('web1')).processes === 1, 5000, 'dd to have left the cgroup');

    const registry = new Registry();
    new CgroupMetricsCollector(m).register(registry);
    const text = await registry.metrics();
    const fams = parsePrometheusText(text);

    for (const [name, type] of REQUIRED) {
      const f = fams.get(name);
      expect(f, name).toBeDefined();
      expect(f!.type, name).toBe(type);
      expect(f!.help, name).toBeTruthy();
    }
    expect(fams.get('container_memory_working_set_bytes')!.help).toBe('Current working set in bytes.');
    expect(fams.get('container_oom_events_total')!.help).toBe('Count of out of memory events observed for the container');

    const web = (name: string) => fams.get(name)!.samples.filter((s) => s.labels['id'] === `/${h.parent}/web1`);
    const job = (name: string) => fams.get(name)!.samples.filter((s) => s.labels['id'] === `/${h.parent}/job1`);
    const [usage] = web('container_cpu_usage_seconds_total');
    expect(usage!.labels).toEqual({
      container: 'nginx',
      container_label_com_example_tier: 'front "end"',
      container_label_io_kubernetes_container_name: 'nginx',
      container_label_io_kubernetes_pod_name: 'web-0',
      container_label_io_kubernetes_pod_namespace: 'prod',
      cpu: 'total',
      id: `/${h.parent}/web1`,
      image: 'docker.io/library/nginx:1.27',
      name: 'web',
      namespace: 'prod',
      pod: 'web-0',
    });
    // A container without a label still carries the label name, empty (as cAdvisor).
    const [jobProcs] = job('container_processes');
    expect(jobProcs!.labels['container_label_com_example_tier']).toBe('');
    expect(jobProcs!.labels['pod']).toBe('');
    expect(jobProcs!.value).toBe(0);

    expect(web('container_processes')[0]!.value).toBe(1);
    expect(web('container_threads')[0]!.value).toBe(1);
    expect(web('container_spec_memory_limit_bytes')[0]!.value).toBe(parseBytes('128m'));
    expect(web('container_spec_memory_reservation_limit_bytes')[0]!.value).toBe(parseBytes('64m'));
    expect(web('container_spec_cpu_quota')[0]!.value).toBe(50000);
    expect(web('container_spec_cpu_period')[0]!.value).toBe(100000);
    // v2 stores cpu.weight; reading it back through the inverse conversion is within rounding.
    const shares = web('container_spec_cpu_shares')[0]!.value;
    if (layout.version === 'v1') expect(shares).toBe(512);
    else expect(Math.abs(shares - 512) / 512).toBeLessThan(0.05);
    expect(job('container_spec_cpu_quota')).toEqual([]); // no quota, no series (cAdvisor does the same)
    const usageBytes = web('container_memory_usage_bytes')[0]!.value;
    expect(usageBytes).toBeGreaterThan(0);
    expect(web('container_memory_working_set_bytes')[0]!.value).toBeLessThanOrEqual(usageBytes);
    const writes = web('container_fs_writes_bytes_total');
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((s) => /^\/dev\/|^\d+:\d+$/.test(s.labels['device']!))).toBe(true);
    expect(writes.reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(parseBytes('4m'));
    const start = web('container_start_time_seconds')[0]!.value;
    expect(start).toBeGreaterThanOrEqual(Math.floor(before) - 1);
    expect(web('container_last_seen')[0]!.value).toBeGreaterThanOrEqual(Math.floor(start));
    expect(web('container_oom_events_total')[0]!.value).toBe(0);

    // A deleted container disappears from the next scrape.
    await m.delete('job1');
    const after = parsePrometheusText(await registry.metrics());
    expect(after.get('container_processes')!.samples.map((s) => s.labels['id'])).toEqual([`/${h.parent}/web1`]);
  });
});
