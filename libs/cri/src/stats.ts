// Container and pod stats from one engine Stats sample (the cgroups
// service's counters): CPU time, memory in use (the engine's working set),
// and for a pod the sum over its containers.
import type { engineV1, runtimeV1 } from '@berth/proto';
import type { Backends } from './backends';
import type { CriContainer } from './containers';
import { msToNs } from './metadata';
import type { Sandbox } from './sandboxes';

/** One sample of each running engine container among `ids` (absent for the stopped). */
export async function sampleStats(b: Backends, ids: string[]): Promise<Map<string, { s: engineV1.ContainerStats__Output; atMs: number }>> {
  const out = new Map<string, { s: engineV1.ContainerStats__Output; atMs: number }>();
  if (!ids.length) return out;
  const call = b.engine.Stats({ ids, all: false, stream: false, intervalMs: 0 });
  for await (const m of call as AsyncIterable<engineV1.StatsResponse__Output>) {
    for (const s of m.stats) out.set(s.id, { s, atMs: Number(m.timeUnixMs) });
    break;
  }
  return out;
}

export function containerStatsOf(c: CriContainer, sample: { s: engineV1.ContainerStats__Output; atMs: number } | undefined): runtimeV1.ContainerStats {
  const ts = msToNs(sample?.atMs ?? Date.now());
  return {
    attributes: { id: c.id, metadata: c.record.metadata, labels: c.record.labels, annotations: c.record.annotations },
    cpu: { timestamp: ts, usageCoreNanoSeconds: { value: Number(sample?.s.cpuUsageNs ?? 0) } },
    memory: { timestamp: ts, workingSetBytes: { value: Number(sample?.s.memoryUsage ?? 0) } },
    writableLayer: { timestamp: ts, fsId: { mountpoint: '' }, usedBytes: { value: 0 }, inodesUsed: { value: 0 } },
  };
}

export function podStatsOf(p: Sandbox, containers: runtimeV1.ContainerStats[], sample: { s: engineV1.ContainerStats__Output; atMs: number } | undefined): runtimeV1.PodSandboxStats {
  const ts = msToNs(sample?.atMs ?? Date.now());
  const cpu = containers.reduce((n, c) => n + Number(c.cpu?.usageCoreNanoSeconds?.value ?? 0), Number(sample?.s.cpuUsageNs ?? 0));
  const mem = containers.reduce((n, c) => n + Number(c.memory?.workingSetBytes?.value ?? 0), Number(sample?.s.memoryUsage ?? 0));
  return {
    attributes: { id: p.id, metadata: p.record.metadata, labels: p.record.labels, annotations: p.record.annotations },
    linux: {
      cpu: { timestamp: ts, usageCoreNanoSeconds: { value: cpu } },
      memory: { timestamp: ts, workingSetBytes: { value: mem } },
      network: { timestamp: ts, defaultInterface: { name: 'eth0', rxBytes: { value: Number(sample?.s.netRx ?? 0) }, txBytes: { value: Number(sample?.s.netTx ?? 0) } }, interfaces: [] },
      process: { timestamp: ts, processCount: { value: Number(sample?.s.pids ?? 0) } },
      containers,
    },
  };
}
