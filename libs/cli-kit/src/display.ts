// Row contexts for the listing commands: the fields `--format` templates see
// ({{.ID}}, {{.Status}}...) computed exactly as `docker ps/images/stats/volume
// ls/network ls` print them, plus each command's default table and headers.
import { KUBE_POD_NAME_LABEL, podIdOf } from '@berth/container-config';
import { ellipsis } from './table';
import { bytesSize, humanDuration, humanSize, statusString, type StatusFacts } from './units';
import type { FormatOptions } from './format';

/** The container fields ps needs (the engine's ContainerSummary). */
export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  /** Path plus args, as run. */
  command: string;
  /** Epoch ms. */
  createdAt: number;
  state: StatusFacts['state'];
  exitCode: number;
  startedAt: number;
  finishedAt: number;
  /** Published ports and exposed ones (hostPort 0 and hostIp "" = exposed only). */
  ports: { containerPort: number; protocol: string; hostIp: string; hostPort: number }[];
  labels: Record<string, string>;
  /** Volume names or bind sources. */
  mounts: string[];
  networks: string[];
  /** Healthcheck status (starting, healthy, unhealthy); "" or absent = none: ps shows "Up 5 seconds (healthy)". */
  health?: string;
  /** Bytes written to the writable layer, -1 = not computed. */
  sizeRw: number;
  sizeRootFs: number;
}

/** Docker's DisplayablePorts: "0.0.0.0:8000-8001->80-81/tcp, 443/tcp", consecutive ports collapsed. */
export function displayPorts(ports: ContainerSummary['ports']): string {
  const sorted = [...ports].sort((a, b) =>
    a.hostIp.localeCompare(b.hostIp) || a.protocol.localeCompare(b.protocol) || a.containerPort - b.containerPort);
  type Run = { ip: string; proto: string; c0: number; c1: number; h0: number; h1: number; bound: boolean };
  const runs: Run[] = [];
  for (const p of sorted) {
    const bound = p.hostPort > 0;
    const ip = bound ? (p.hostIp === '' ? '0.0.0.0' : p.hostIp) : '';
    const last = runs[runs.length - 1];
    if (last && last.ip === ip && last.proto === p.protocol && last.bound === bound && p.containerPort === last.c1 + 1 && (!bound || p.hostPort === last.h1 + 1)) {
      last.c1 = p.containerPort;
      last.h1 = p.hostPort;
    } else runs.push({ ip, proto: p.protocol, c0: p.containerPort, c1: p.containerPort, h0: p.hostPort, h1: p.hostPort, bound });
  }
  const range = (a: number, b: number): string => (a === b ? `${a}` : `${a}-${b}`);
  return runs.map((r) => {
    const ctr = `${range(r.c0, r.c1)}/${r.proto}`;
    if (!r.bound) return ctr;
    const host = r.ip.includes(':') ? `[${r.ip}]` : r.ip;
    return `${r.ip === '::' ? '::' : host}:${range(r.h0, r.h1)}->${ctr}`;
  }).join(', ');
}

/** Go's time.Time.String() for UTC: "2024-01-02 03:04:05 +0000 UTC". */
export function goTimeString(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC');
}

const sortedLabels = (l: Record<string, string>): string => Object.keys(l).sort().map((k) => `${k}=${l[k]}`).join(',');

/** The {{.Field}}s of `berth ps`. */
export function containerRow(c: ContainerSummary, nowMs: number, noTrunc: boolean): Record<string, unknown> {
  const cmd = noTrunc ? c.command : ellipsis(c.command, 20);
  return {
    ID: noTrunc ? c.id : c.id.slice(0, 12),
    Image: c.image,
    Command: JSON.stringify(cmd),
    CreatedAt: goTimeString(c.createdAt),
    RunningFor: `${humanDuration(nowMs - c.createdAt)} ago`,
    Ports: displayPorts(c.ports),
    State: c.state,
    Status: statusString(c, nowMs),
    Size: c.sizeRw < 0 ? '' : `${humanSize(c.sizeRw)} (virtual ${humanSize(c.sizeRootFs)})`,
    Names: c.name,
    Labels: sortedLabels(c.labels),
    Label: (key: string) => c.labels[key] ?? '',
    Mounts: c.mounts.map((m) => (noTrunc ? m : ellipsis(m, 15))).join(','),
    Networks: c.networks.join(','),
    // The Kubernetes pod a CRI container (or pod sandbox) belongs to: its sandbox's id and the pod's name.
    Pod: noTrunc ? podIdOf(c.id, c.labels) : podIdOf(c.id, c.labels).slice(0, 12),
    PodName: podIdOf(c.id, c.labels) ? (c.labels[KUBE_POD_NAME_LABEL] ?? '') : '',
  };
}

/** `berth ps --pod`: the default table with the pod's id and name before NAMES (podman ps --pod's columns). */
export const PS_POD_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Pod}}\t{{.PodName}}\t{{.Names}}';

export const PS_FORMAT: FormatOptions = {
  defaultTable: '{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
  headers: { ID: 'CONTAINER ID', RunningFor: 'CREATED', CreatedAt: 'CREATED AT', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', Status: 'STATUS', Ports: 'PORTS', Size: 'SIZE', Label: 'LABEL', Pod: 'POD ID', PodName: 'PODNAME' },
  // COMMAND and PORTS give way first when the terminal is narrow.
  shrinkable: [2, 5],
};

export interface ImageSummary {
  repository: string;
  tag: string;
  /** "sha256:<hex>". */
  id: string;
  digest: string;
  createdAt: number;
  size: number;
}

export function imageRow(i: ImageSummary, nowMs: number, noTrunc: boolean): Record<string, unknown> {
  return {
    Repository: i.repository || '<none>',
    Tag: i.tag || '<none>',
    ID: noTrunc ? i.id : i.id.replace(/^sha256:/, '').slice(0, 12),
    Digest: i.digest || '<none>',
    CreatedSince: `${humanDuration(nowMs - i.createdAt)} ago`,
    CreatedAt: goTimeString(i.createdAt),
    Size: humanSize(i.size),
  };
}

export const IMAGES_FORMAT: FormatOptions = {
  defaultTable: '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}',
  headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Digest: 'DIGEST' },
};

export interface StatsSample {
  id: string;
  name: string;
  /** CPU use in percent of one CPU x online CPUs, as docker stats computes it. */
  cpuPercent: number;
  memUsage: number;
  memLimit: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

export function statsRow(s: StatsSample, noTrunc: boolean): Record<string, unknown> {
  return {
    ID: noTrunc ? s.id : s.id.slice(0, 12),
    Container: noTrunc ? s.id : s.id.slice(0, 12),
    Name: s.name,
    CPUPerc: `${s.cpuPercent.toFixed(2)}%`,
    MemUsage: `${bytesSize(s.memUsage)} / ${bytesSize(s.memLimit)}`,
    MemPerc: `${(s.memLimit > 0 ? (s.memUsage / s.memLimit) * 100 : 0).toFixed(2)}%`,
    NetIO: `${humanSize(s.netRx)} / ${humanSize(s.netTx)}`,
    BlockIO: `${humanSize(s.blockRead)} / ${humanSize(s.blockWrite)}`,
    PIDs: String(s.pids),
  };
}

export const STATS_FORMAT: FormatOptions = {
  defaultTable: '{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
  headers: { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' },
};

export const VOLUMES_FORMAT: FormatOptions = {
  defaultTable: '{{.Driver}}\t{{.Name}}',
  headers: { Driver: 'DRIVER', Name: 'VOLUME NAME', Mountpoint: 'MOUNTPOINT' },
};

export const NETWORKS_FORMAT: FormatOptions = {
  defaultTable: '{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
  headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', Subnet: 'SUBNET' },
};

/** docker inspect without --format: a JSON array indented by 4 spaces. */
export function inspectJson(docs: unknown[]): string {
  return `${JSON.stringify(docs, null, 4)}\n`;
}

/**
 * docker port: "80/tcp -> 0.0.0.0:8080" per binding, or for one private
 * port only "0.0.0.0:8080". `filter` is "80" or "80/udp".
 */
export function portLines(ports: ContainerSummary['ports'], filter?: string): string[] {
  const bound = ports.filter((p) => p.hostPort > 0);
  const addr = (p: ContainerSummary['ports'][number]): string => {
    const ip = p.hostIp === '' ? '0.0.0.0' : p.hostIp;
    return `${ip.includes(':') ? `[${ip}]` : ip}:${p.hostPort}`;
  };
  if (filter !== undefined) {
    const [port, proto = 'tcp'] = filter.split('/');
    return bound.filter((p) => String(p.containerPort) === port && p.protocol === proto).map(addr);
  }
  return [...bound]
    .sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol))
    .map((p) => `${p.containerPort}/${p.protocol} -> ${addr(p)}`);
}

/** One `docker events` line: "<RFC3339Nano> container die <id> (exitCode=0, image=nginx, name=web)". */
export function eventLine(ev: { type: string; action: string; id: string; timeUnixMs: number; attributes: Record<string, string> }): string {
  const time = new Date(ev.timeUnixMs).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
  const attrs = Object.keys(ev.attributes).sort().map((k) => `${k}=${ev.attributes[k]}`).join(', ');
  return `${time} ${ev.type} ${ev.action} ${ev.id}${attrs ? ` (${attrs})` : ''}`;
}
