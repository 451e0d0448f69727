// Conversions between berth.engine.v1 messages (as @grpc/proto-loader
// presents them: camelCase, longs as numbers, defaults filled, absent
// sub-messages null, absent `optional` scalars undefined) and the engine's
// types. The gRPC handler (apps/engine) calls these and nothing else, so the
// wire rules live in one tested place:
//   - Cmd/Entrypoint travel as StringList: null = not given, {values: []} = given empty
//   - "" strings mean "default" (pull -> missing, network -> bridge, restart -> no)
//   - map<string, FilterValues> filters <-> Record<string, string[]>
import { quoteValue, parseCgroupParent, parseExtraHost, parseDeviceMapping, parseDeviceCgroupRule, checkCgroupnsMode, type DeviceMapping } from '@berth/container-config';
import { checkStorageOpts, parseMacAddress } from '@berth/container-config';
import { isIPv4 } from 'node:net';
import { InvalidArgumentError } from '@berth/errors';
import type { CreateRequest, ExecRequest, StatsSample, UpdateRequest } from './engine';
import type { ContainerEvent } from './events';
import { inspectContainer } from './inspect';
import { logBounds, type LogEntry } from '@berth/cri-log';
import type { LogsOptions } from './engine';
import type { PullPolicy } from './ports';
import { toSummary, type ContainerSummary } from './summary';
import { defaultContainerConfig, defaultHostConfig, type ContainerConfig, type ContainerRecord, type HostConfig, type MountSpec, type RestartPolicy } from './types';
import { validateCreateRequest, validateExecRequest, validateUpdateRequest } from './validate';
import { podOptionsFromWire, type WirePodOptions } from './pod-options';
import type { VolumeRecord } from './volumes';

export interface WireStringList { values: string[] }
export interface WireFilterValues { values: string[] }
type Maybe<T> = T | null | undefined;

export interface WireContainerConfig {
  hostname?: string; domainname?: string; user?: string; env?: string[]; cmd?: Maybe<WireStringList>; entrypoint?: Maybe<WireStringList>;
  workingDir?: string; exposedPorts?: string[]; volumes?: string[]; labels?: Record<string, string>; stopSignal?: string;
  stopTimeout?: number; tty?: boolean; openStdin?: boolean; attachStdin?: boolean; attachStdout?: boolean; attachStderr?: boolean; image?: string;
  healthcheck?: Maybe<WireHealthConfig>;
}
export interface WireHealthConfig { test?: string[]; interval?: number; timeout?: number; startPeriod?: number; startInterval?: number; retries?: number }
export interface WirePortBinding { containerPort?: number; protocol?: string; hostIp?: string; hostPort?: number; hostPortEnd?: number }
export interface WireMountSpec { type?: string; source?: string; target?: string; readOnly?: boolean; options?: string[] }
export interface WireRestartPolicy { name?: string; maximumRetryCount?: number }
export interface WireHostConfig extends WirePodOptions {
  memory?: number; memorySwap?: number; nanoCpus?: number; cpuShares?: number; cpusetCpus?: string; pidsLimit?: number; networkMode?: string;
  portBindings?: WirePortBinding[]; mounts?: WireMountSpec[]; readonlyRootfs?: boolean; init?: boolean; restartPolicy?: Maybe<WireRestartPolicy>;
  capAdd?: string[]; capDrop?: string[]; usernsMode?: string; autoRemove?: boolean; logConfig?: Maybe<{ type?: string; config?: Record<string, string> }>;
  securityOpt?: string[];
  privileged?: boolean; devices?: { pathOnHost?: string; pathInContainer?: string; cgroupPermissions?: string }[];
  deviceCgroupRules?: string[]; cgroupnsMode?: string;
  memoryReservation?: number; memorySwappiness?: number | null; kernelMemory?: number; oomKillDisable?: boolean; cpuPeriod?: number; cpuQuota?: number;
  cpusetMems?: string; blkioWeight?: number; blkioWeightDevice?: { path?: string; weight?: number }[];
  blkioDeviceReadBps?: WireThrottleDevice[]; blkioDeviceWriteBps?: WireThrottleDevice[]; blkioDeviceReadIops?: WireThrottleDevice[]; blkioDeviceWriteIops?: WireThrottleDevice[];
  ulimits?: { name?: string; soft?: number; hard?: number }[];
  publishAllPorts?: boolean;
  shmSize?: number;
  cgroupParent?: string;
  extraHosts?: string[];
  ipv4Address?: string;
  macAddress?: string;
  storageOpt?: Record<string, string>;
  volumesFrom?: string[];
  networkAliases?: string[];
}
export type { WirePodOptions } from './pod-options';
export interface WireThrottleDevice { path?: string; rate?: number }
export interface WireCreateContainerRequest { name?: string; config?: Maybe<WireContainerConfig>; hostConfig?: Maybe<WireHostConfig>; pull?: string }

const RESTART_NAMES = ['no', 'always', 'unless-stopped', 'on-failure'];

/** `prefix`: where the policy sits in the request ("host_config." in CreateContainer, "" in UpdateContainer). */
export function restartPolicyFromWire(w: Maybe<WireRestartPolicy>, prefix = ''): RestartPolicy {
  const name = w?.name || 'no';
  if (!RESTART_NAMES.includes(name)) {
    throw new InvalidArgumentError(`invalid restart policy "${quoteValue(name)}": expected no, always, unless-stopped or on-failure`, { field: `${prefix}restart_policy.name` });
  }
  const max = w?.maximumRetryCount ?? 0;
  if (max < 0) throw new InvalidArgumentError(`${prefix}restart_policy.maximum_retry_count must not be negative`, { field: `${prefix}restart_policy.maximum_retry_count` });
  if (max > 0 && name !== 'on-failure') {
    throw new InvalidArgumentError(`maximum retry count cannot be used with restart policy "${name}"`, { field: `${prefix}restart_policy.maximum_retry_count` });
  }
  return { name: name as RestartPolicy['name'], maximumRetryCount: max };
}

function mountFromWire(m: WireMountSpec, i: number): MountSpec {
  const type = m.type || 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') {
    throw new InvalidArgumentError(`invalid host_config.mounts[${i}].type "${quoteValue(type)}": expected bind, volume or tmpfs`, { field: `host_config.mounts[${i}].type` });
  }
  // Paths and options are checked with the rest of the request (validate.ts).
  return { type, source: m.source ?? '', target: m.target ?? '', readOnly: m.readOnly ?? false, options: m.options ?? [] };
}

export function configFromWire(w: Maybe<WireContainerConfig>): ContainerConfig {
  const d = defaultContainerConfig(w?.image ?? '');
  if (!w?.image) throw new InvalidArgumentError('config.image is required', { field: 'config.image' });
  return {
    ...d,
    hostname: w.hostname ?? '', domainname: w.domainname ?? '', user: w.user ?? '', env: w.env ?? [],
    cmd: w.cmd ? [...w.cmd.values] : null, entrypoint: w.entrypoint ? [...w.entrypoint.values] : null,
    workingDir: w.workingDir ?? '', exposedPorts: w.exposedPorts ?? [], volumes: w.volumes ?? [], labels: w.labels ?? {},
    stopSignal: w.stopSignal ?? '', stopTimeout: w.stopTimeout ?? null, tty: w.tty ?? false, openStdin: w.openStdin ?? false,
    attachStdin: w.attachStdin ?? false, attachStdout: w.attachStdout ?? false, attachStderr: w.attachStderr ?? false,
    ...(w.healthcheck ? { healthcheck: {
      test: [...(w.healthcheck.test ?? [])], interval: w.healthcheck.interval ?? 0, timeout: w.healthcheck.timeout ?? 0,
      startPeriod: w.healthcheck.startPeriod ?? 0, startInterval: w.healthcheck.startInterval ?? 0, retries: w.healthcheck.retries ?? 0,
    } } : {}),
  };
}

export function hostConfigFromWire(w: Maybe<WireHostConfig>): HostConfig {
  const d = defaultHostConfig();
  if (!w) return d;
  return {
    memory: w.memory ?? 0, memorySwap: w.memorySwap ?? 0, nanoCpus: w.nanoCpus ?? 0, cpuShares: w.cpuShares ?? 0,
    cpusetCpus: w.cpusetCpus ?? '', pidsLimit: w.pidsLimit ?? 0, networkMode: w.networkMode || 'bridge',
    // Ranges, protocol and address are checked with the rest of the request (validate.ts).
    portBindings: (w.portBindings ?? []).map((p) => ({
      containerPort: p.containerPort ?? 0, protocol: p.protocol || 'tcp', hostIp: p.hostIp ?? '', hostPort: p.hostPort ?? 0,
      ...(p.hostPortEnd ? { hostPortEnd: p.hostPortEnd } : {}),
    })),
    mounts: (w.mounts ?? []).map(mountFromWire), readonlyRootfs: w.readonlyRootfs ?? false, init: w.init ?? false,
    restartPolicy: restartPolicyFromWire(w.restartPolicy, 'host_config.'), capAdd: w.capAdd ?? [], capDrop: w.capDrop ?? [],
    usernsMode: w.usernsMode ?? '', autoRemove: w.autoRemove ?? false,
    logConfig: logConfigFromWire(w.logConfig), securityOpt: w.securityOpt ?? [],
    ...devicesFromWire(w),
    ...extraResourcesFromWire(w),
    ...podOptionsFromWire(w),
  };
}

/** The limits of resources.ts: unset ones stay absent, so older records and requests read the same. */
function extraResourcesFromWire(w: WireHostConfig): Partial<HostConfig> {
  const throttles = (l: WireThrottleDevice[] | undefined) => (l ?? []).map((d) => ({ path: d.path ?? '', rate: d.rate ?? 0 }));
  const out: Partial<HostConfig> = {};
  if (w.memoryReservation) out.memoryReservation = w.memoryReservation;
  if (w.memorySwappiness !== undefined && w.memorySwappiness !== null) out.memorySwappiness = w.memorySwappiness;
  if (w.kernelMemory) out.kernelMemory = w.kernelMemory;
  if (w.oomKillDisable) out.oomKillDisable = true;
  if (w.cpuPeriod) out.cpuPeriod = w.cpuPeriod;
  if (w.cpuQuota) out.cpuQuota = w.cpuQuota;
  if (w.cpusetMems) out.cpusetMems = w.cpusetMems;
  if (w.blkioWeight) out.blkioWeight = w.blkioWeight;
  if (w.blkioWeightDevice?.length) out.blkioWeightDevice = w.blkioWeightDevice.map((d) => ({ path: d.path ?? '', weight: d.weight ?? 0 }));
  if (w.blkioDeviceReadBps?.length) out.blkioDeviceReadBps = throttles(w.blkioDeviceReadBps);
  if (w.blkioDeviceWriteBps?.length) out.blkioDeviceWriteBps = throttles(w.blkioDeviceWriteBps);
  if (w.blkioDeviceReadIops?.length) out.blkioDeviceReadIops = throttles(w.blkioDeviceReadIops);
  if (w.blkioDeviceWriteIops?.length) out.blkioDeviceWriteIops = throttles(w.blkioDeviceWriteIops);
  if (w.ulimits?.length) out.ulimits = w.ulimits.map((u) => ({ name: u.name ?? '', soft: u.soft ?? 0, hard: u.hard ?? 0 }));
  if (w.publishAllPorts) out.publishAllPorts = true;
  if (w.extraHosts?.length) {
    w.extraHosts.forEach((e, i) => {
      const h = parseExtraHost(e);
      if ('error' in h) throw new InvalidArgumentError(`host_config.extra_hosts[${i}] "${quoteValue(e)}": ${h.error}`, { field: `host_config.extra_hosts[${i}]` });
    });
    out.extraHosts = [...w.extraHosts];
  }
  if (w.volumesFrom?.length) {
    w.volumesFrom.forEach((e, i) => {
      if (!/^[^:\s]+(:(ro|rw))?$/.test(e)) throw new InvalidArgumentError(`host_config.volumes_from[${i}] "${quoteValue(e)}": expected CONTAINER[:ro|:rw]`, { field: `host_config.volumes_from[${i}]` });
    });
    out.volumesFrom = [...w.volumesFrom];
  }
  if (w.ipv4Address) {
    const mode = w.networkMode ?? '';
    if (!isIPv4(w.ipv4Address)) throw new InvalidArgumentError(`host_config.ipv4_address "${quoteValue(w.ipv4Address)}": not an IPv4 address`, { field: 'host_config.ipv4_address' });
    if (['', 'default', 'bridge', 'none', 'host'].includes(mode) || mode.startsWith('container:')) {
      throw new InvalidArgumentError(`host_config.ipv4_address: a fixed address is supported on user-defined networks only (network mode "${quoteValue(mode) || 'default'}"); create a network with --subnet and run on it`, { field: 'host_config.ipv4_address' });
    }
    out.ipv4Address = w.ipv4Address;
  }
  if (w.macAddress) {
    const mode = w.networkMode ?? '';
    const mac = parseMacAddress(w.macAddress);
    if ('error' in mac) throw new InvalidArgumentError(`host_config.mac_address "${quoteValue(w.macAddress)}": ${mac.error}`, { field: 'host_config.mac_address' });
    if (['none', 'host'].includes(mode) || mode.startsWith('container:')) {
      throw new InvalidArgumentError(`conflicting options: host_config.mac_address and network mode "${quoteValue(mode)}" (the container has no interface of its own there)`, { field: 'host_config.mac_address' });
    }
    out.macAddress = mac.mac;
  }
  const storage = checkStorageOpts(w.storageOpt ?? {});
  if (storage) throw new InvalidArgumentError(storage.error, { field: `host_config.storage_opt[${storage.key}]` });
  if (w.cgroupParent) {
    const p = parseCgroupParent(w.cgroupParent);
    if ('error' in p) throw new InvalidArgumentError(`host_config.cgroup_parent "${quoteValue(w.cgroupParent)}": ${p.error}`, { field: 'host_config.cgroup_parent' });
    out.cgroupParent = p.path;
  }
  if (w.shmSize) {
    if (w.shmSize < 0) throw new InvalidArgumentError(`host_config.shm_size ${w.shmSize}: the size of /dev/shm cannot be negative`, { field: 'host_config.shm_size' });
    out.shmSize = w.shmSize;
  }
  if (w.networkAliases?.length) {
    w.networkAliases.forEach((a, i) => {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a) || a.length > 253) throw new InvalidArgumentError(`invalid network alias "${quoteValue(a)}": expected a DNS name`, { field: `host_config.network_aliases[${i}]` });
    });
    out.networkAliases = [...w.networkAliases];
  }
  return out;
}

/** --privileged, --device, --device-cgroup-rule, --cgroupns: shapes checked here (the host node at run). */
function devicesFromWire(w: WireHostConfig): Pick<HostConfig, 'privileged' | 'devices' | 'deviceCgroupRules' | 'cgroupnsMode'> {
  const devices = (w.devices ?? []).map((d, i): DeviceMapping => {
    const text = [d.pathOnHost ?? '', d.pathInContainer ?? '', d.cgroupPermissions ?? ''].filter(Boolean).join(':');
    const m = parseDeviceMapping(text);
    if ('error' in m || !(d.pathOnHost ?? '').startsWith('/')) {
      throw new InvalidArgumentError(`invalid device "${quoteValue(text)}": ${'error' in m ? m.error : 'the host device must be an absolute path'}`, { field: `host_config.devices[${i}]` });
    }
    return m;
  });
  const rules = w.deviceCgroupRules ?? [];
  rules.forEach((r, i) => {
    const p = parseDeviceCgroupRule(r);
    if ('error' in p) throw new InvalidArgumentError(`invalid device cgroup rule "${quoteValue(r)}": ${p.error}`, { field: `host_config.device_cgroup_rules[${i}]` });
  });
  const cgroupnsMode = w.cgroupnsMode ?? '';
  const bad = checkCgroupnsMode(cgroupnsMode);
  if (bad) throw new InvalidArgumentError(`invalid cgroupns mode "${quoteValue(cgroupnsMode)}": ${bad}`, { field: 'host_config.cgroupns_mode' });
  return { privileged: w.privileged ?? false, devices, deviceCgroupRules: [...rules], cgroupnsMode };
}

export function createRequestFromWire(w: WireCreateContainerRequest): CreateRequest {
  const pull = w.pull || 'missing';
  if (pull !== 'missing' && pull !== 'always' && pull !== 'never') {
    throw new InvalidArgumentError(`pull "${pull}": expected missing, always or never`, { field: 'pull' });
  }
  const req: CreateRequest = { name: w.name || undefined, config: configFromWire(w.config), hostConfig: hostConfigFromWire(w.hostConfig), pull: pull as PullPolicy };
  validateCreateRequest(req);
  // A range of one port is that port.
  for (const p of req.hostConfig.portBindings) if (p.hostPortEnd === p.hostPort) delete p.hostPortEnd;
  return req;
}

/** The inverse, for clients (the CLI) building requests from a RunRequest-shaped object. */
/** Validated here, so a gRPC client hears about a bad option before anything is created. */
function logConfigFromWire(w: Maybe<{ type?: string; config?: Record<string, string> }>): HostConfig['logConfig'] {
  const lc = { type: w?.type ?? '', config: { ...(w?.config ?? {}) } };
  logBounds(lc.type, lc.config, 'host_config.log_config');
  return lc;
}

export function createRequestToWire(r: { name?: string; config: ContainerConfig; hostConfig: HostConfig; pull?: PullPolicy }): WireCreateContainerRequest {
  const { cmd, entrypoint, stopTimeout, ...rest } = r.config;
  return {
    name: r.name ?? '',
    config: { ...rest, cmd: cmd ? { values: cmd } : null, entrypoint: entrypoint ? { values: entrypoint } : null, ...(stopTimeout !== null ? { stopTimeout } : {}) },
    hostConfig: r.hostConfig,
    pull: r.pull ?? 'missing',
  };
}

export function filtersFromWire(m: Maybe<Record<string, WireFilterValues>>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, v?.values ?? []]));
}

export function filtersToWire(f: Record<string, string[]>): Record<string, WireFilterValues> {
  return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, { values: v }]));
}

export interface WireUpdateRequest {
  memory?: number; memorySwap?: number; nanoCpus?: number; cpuShares?: number; cpusetCpus?: string; pidsLimit?: number; restartPolicy?: Maybe<WireRestartPolicy>;
  memoryReservation?: number; cpuPeriod?: number; cpuQuota?: number; cpusetMems?: string; blkioWeight?: number;
}

export function updateRequestFromWire(w: WireUpdateRequest): UpdateRequest {
  const u: UpdateRequest = {
    memory: w.memory, memorySwap: w.memorySwap, nanoCpus: w.nanoCpus, cpuShares: w.cpuShares, cpusetCpus: w.cpusetCpus, pidsLimit: w.pidsLimit,
    restartPolicy: w.restartPolicy ? restartPolicyFromWire(w.restartPolicy) : undefined,
    memoryReservation: w.memoryReservation, cpuPeriod: w.cpuPeriod, cpuQuota: w.cpuQuota, cpusetMems: w.cpusetMems, blkioWeight: w.blkioWeight,
  };
  validateUpdateRequest(u);
  return u;
}

export interface WireExecStart { id?: string; args?: string[]; env?: string[]; workingDir?: string; user?: string; tty?: boolean; stdin?: boolean; privileged?: boolean }

export function execRequestFromWire(w: WireExecStart): ExecRequest {
  const e: ExecRequest = { args: w.args ?? [], env: w.env ?? [], workingDir: w.workingDir ?? '', user: w.user ?? '', tty: w.tty ?? false, stdin: w.stdin ?? false, privileged: w.privileged ?? false };
  validateExecRequest(e);
  return e;
}

export function inspectToWire(rec: ContainerRecord): { json: string; summary: ContainerSummary } {
  return { json: JSON.stringify(inspectContainer(rec)), summary: toSummary(rec) };
}

/** berth.engine.v1.Event; attributes carry exit_code, signal, old_name, exec_id and the labels. */
export function eventToWire(ev: ContainerEvent): { type: string; action: string; id: string; name: string; image: string; timeUnixMs: number; attributes: Record<string, string> } {
  const attributes: Record<string, string> = { ...ev.labels };
  if (ev.exitCode !== undefined) attributes.exit_code = String(ev.exitCode);
  if (ev.signal) attributes.signal = ev.signal;
  if (ev.oldName) attributes.old_name = ev.oldName;
  if (ev.execId) attributes.exec_id = ev.execId;
  if (ev.imageId) attributes.image_id = ev.imageId;
  if (ev.healthStatus) attributes.health_status = ev.healthStatus;
  return { type: 'container', action: ev.action, id: ev.id, name: ev.name, image: ev.image, timeUnixMs: ev.time, attributes };
}

export interface WireLogsRequest { id?: string; follow?: boolean; tail?: number; since?: string; until?: string; stdout?: boolean; stderr?: boolean }

/** Docker API style "seconds[.fraction]" since the epoch -> ns. */
export function parseUnixTimestamp(s: string, field = 'since'): bigint {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(s);
  if (!m) throw new InvalidArgumentError(`invalid timestamp "${s}" for ${field}: expected seconds since the epoch, optionally with a fraction`, { field });
  return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** LogsRequest -> Engine.logs options (times in Docker's "<sec>[.<ns>]" form). */
export function logsRequestFromWire(w: WireLogsRequest): LogsOptions {
  const both = !w.stdout && !w.stderr;
  return {
    follow: w.follow ?? false,
    tail: w.tail === undefined || w.tail < 0 ? undefined : w.tail,
    sinceNs: w.since ? parseUnixTimestamp(w.since, 'since') : undefined,
    untilNs: w.until ? parseUnixTimestamp(w.until, 'until') : undefined,
    stdout: both || (w.stdout ?? false),
    stderr: both || (w.stderr ?? false),
  };
}

/** The engine's LogEntry carries the line without its newline (a last line may have none). */
/** A line without its newline; a piece of one (or an unfinished last line) is `partial`. */
export function logEntryToWire(e: LogEntry): { time: string; stream: string; line: Buffer; partial: boolean } {
  const l = e.line;
  const full = l.length > 0 && l[l.length - 1] === 10;
  return { time: e.time, stream: e.stream, line: full ? l.subarray(0, -1) : l, partial: !full };
}

export function statsToWire(s: StatsSample[], nowMs: number): { stats: StatsSample[]; timeUnixMs: number } {
  return { stats: s, timeUnixMs: nowMs };
}

export function volumeToWire(v: VolumeRecord, usedBy: string[]): Record<string, unknown> {
  return { name: v.name, driver: v.driver, mountpoint: v.mountpoint, labels: v.labels, options: v.options, createdAtUnixMs: v.createdAt, anonymous: v.anonymous, usedBy };
}
