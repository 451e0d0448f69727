// Records as the list-shaped answers see them: ps summaries (the proto's
// ContainerSummary), container prune selection, info counts.
import { InvalidArgumentError } from '@berth/errors';
import { labelMatches } from './container-store';
import type { ContainerRecord, PortBinding } from './types';

/** Field names as berth.engine.v1.ContainerSummary via @grpc/proto-loader (camelCase). */
export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  imageDigest: string;
  command: string;
  createdAtUnixMs: number;
  state: string;
  exitCode: number;
  startedAtUnixMs: number;
  finishedAtUnixMs: number;
  ports: PortBinding[];
  labels: Record<string, string>;
  mounts: string[];
  networks: string[];
  sizeRw: number;
  sizeRootFs: number;
  pid: number;
  restartCount: number;
  oomKilled: boolean;
  error: string;
  /** Healthcheck status while running (starting, healthy, unhealthy); "" = none. */
  health: string;
}

/**
 * ps view of a record. Ports: the allocated bindings while running, else the
 * requested ones, plus exposed ports without a binding (host_port 0), as
 * Docker's ps shows "80/tcp" for exposed-only ports.
 */
export function toSummary(c: ContainerRecord, sizes?: { rw: number; rootFs: number }): ContainerSummary {
  const live = c.state === 'running' || c.state === 'paused';
  const bound = live && c.networkSettings.ports.length ? c.networkSettings.ports : live ? c.hostConfig.portBindings : [];
  const boundKeys = new Set(bound.map((b) => `${b.containerPort}/${b.protocol}`));
  const exposed: PortBinding[] = c.config.exposedPorts
    .filter((p) => !boundKeys.has(p))
    .map((p) => { const [port, proto = 'tcp'] = p.split('/'); return { containerPort: Number(port), protocol: proto, hostIp: '', hostPort: 0 }; });
  return {
    id: c.id, name: c.name, image: c.image, imageDigest: c.imageDigest,
    command: [c.path, ...c.args].filter((x, i) => i > 0 || x !== '').join(' '),
    createdAtUnixMs: c.createdAt, state: c.state, exitCode: c.exitCode,
    startedAtUnixMs: c.startedAt, finishedAtUnixMs: c.finishedAt,
    ports: [...bound, ...exposed], labels: c.config.labels,
    mounts: c.mounts.filter((m) => m.type !== 'tmpfs').map((m) => (m.type === 'volume' ? m.name : m.source)),
    networks: live ? Object.keys(c.networkSettings.networks) : [],
    sizeRw: sizes?.rw ?? -1, sizeRootFs: sizes?.rootFs ?? -1,
    pid: c.pid, restartCount: c.restartCount, oomKilled: c.oomKilled, error: c.error,
    health: live && c.health ? c.health.status : '',
  };
}

/**
 * Which stopped containers `container prune` removes. Filters: until=<ms
 * epoch or "<sec>[.frac]">, label=k[=v], label!=k[=v]. Running, paused and
 * restarting containers are never selected.
 */
export function selectPrunable(records: ContainerRecord[], filters: Record<string, string[]>): ContainerRecord[] {
  for (const k of Object.keys(filters)) {
    if (!['until', 'label', 'label!'].includes(k)) {
      throw new InvalidArgumentError(`invalid filter "${k}": prune accepts until, label, label!`, { field: 'filter' });
    }
  }
  const until = filters.until?.[0];
  let untilMs: number | undefined;
  if (until !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(until)) throw new InvalidArgumentError(`invalid filter "until=${until}": expected "<seconds>[.<fraction>]" since the epoch`, { field: 'filter' });
    untilMs = Number(until) * 1000;
  }
  return records.filter((c) =>
    (c.state === 'exited' || c.state === 'created')
    && (untilMs === undefined || c.createdAt < untilMs)
    && (filters.label ?? []).every((l) => labelMatches(c.config.labels, l))
    && (filters['label!'] ?? []).every((l) => !labelMatches(c.config.labels, l)));
}

export interface ContainerCounts { total: number; running: number; paused: number; stopped: number }

export function countContainers(records: ContainerRecord[]): ContainerCounts {
  const n = (s: string[]) => records.filter((r) => s.includes(r.state)).length;
  return { total: records.length, running: n(['running', 'restarting']), paused: n(['paused']), stopped: n(['created', 'exited']) };
}
