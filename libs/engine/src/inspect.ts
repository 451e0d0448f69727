// `docker inspect` for containers: the Docker Engine API's ContainerJSON shape
// (api/types ContainerJSON), so tools that parse `docker inspect` output
// (jq scripts, compose, CI) work against berth unchanged. Fields berth has no
// concept of keep Docker's zero values rather than disappearing.
import { healthConfigToDocker } from '@berth/container-config';
import type { ContainerRecord, HealthState, MountPoint, PortBinding } from './types';
import { formatIdRanges } from './userns';
import { seccompProfileNameOf } from './security';

/** Go's zero time.Time as Docker prints it. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Epoch ms -> RFC3339Nano as Go prints it (UTC, trailing fraction zeros trimmed); 0 -> zero time. */
export function rfc3339(ms: number): string {
  if (!ms) return ZERO_TIME;
  const iso = new Date(ms).toISOString(); // 2024-01-02T03:04:05.120Z
  return iso.replace(/\.(\d*?)0*Z$/, (_m, frac: string) => (frac ? `.${frac}Z` : 'Z'));
}

type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

function portMap(exposed: string[], bindings: PortBinding[], includeUnbound: boolean): PortMap {
  const out: PortMap = {};
  if (includeUnbound) for (const p of exposed) out[p] = null;
  for (const b of bindings) {
    const key = `${b.containerPort}/${b.protocol}`;
    // A host range (-p 8000-8010:80) shows as Docker shows it; the port chosen is in NetworkSettings.
    const host = b.hostPort ? (b.hostPortEnd && b.hostPortEnd > b.hostPort ? `${b.hostPort}-${b.hostPortEnd}` : String(b.hostPort)) : '';
    (out[key] ??= []).push({ HostIp: b.hostIp, HostPort: host });
  }
  return out;
}

function mountJson(m: MountPoint): Record<string, unknown> {
  const mode = [...(m.rw ? [] : ['ro']), ...m.options.filter((o) => !/^r?(shared|slave|private)$/.test(o))].join(',');
  const propagation = m.options.find((o) => /^r?(shared|slave|private)$/.test(o)) ?? (m.type === 'bind' ? 'rprivate' : '');
  return {
    Type: m.type,
    ...(m.type === 'volume' ? { Name: m.name } : {}),
    Source: m.source,
    Destination: m.destination,
    ...(m.type === 'volume' ? { Driver: 'local' } : {}),
    Mode: m.type === 'volume' && mode === '' ? 'z' : mode,
    RW: m.rw,
    Propagation: propagation,
  };
}

/** Docker's State.Health (Status, FailingStreak, Log with RFC3339 Start/End). */
function healthJson(h: HealthState): Record<string, unknown> {
  return {
    Status: h.status, FailingStreak: h.failingStreak,
    Log: h.log.map((e) => ({ Start: rfc3339(e.start), End: rfc3339(e.end), ExitCode: e.exitCode, Output: e.output })),
  };
}

const nullIfEmpty = <T>(a: T[]): T[] | null => (a.length ? a : null);
const setOf = (keys: string[]): Record<string, Record<string, never>> | null =>
  keys.length ? Object.fromEntries(keys.map((k) => [k, {}])) : null;

/** The Docker-shaped inspect document for one container. */
export function inspectContainer(c: ContainerRecord): Record<string, unknown> {
  const h = c.hostConfig;
  const cfg = c.config;
  const ns = c.networkSettings;
  // The --network-alias names of the network the container was created on are its aliases there too (as Docker shows them).
  const endpointAliases = (network: string, aliases: string[]): string[] =>
    (network === h.networkMode ? [...new Set([...aliases, ...(h.networkAliases ?? [])])] : aliases);
  const binds = c.mounts.filter((m) => m.type !== 'tmpfs').map((m) => `${m.type === 'volume' ? m.name : m.source}:${m.destination}${m.rw ? '' : ':ro'}`);
  const tmpfs = Object.fromEntries(c.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.destination, m.options.join(',')]));
  return {
    Id: c.id,
    Created: rfc3339(c.createdAt),
    Path: c.path,
    Args: c.args,
    State: {
      Status: c.state === 'removed' ? 'removing' : c.state,
      Running: c.state === 'running' || c.state === 'paused',
      Paused: c.state === 'paused',
      Restarting: c.state === 'restarting',
      OOMKilled: c.oomKilled,
      Dead: false,
      Pid: c.pid,
      ExitCode: c.exitCode,
      Error: c.error,
      StartedAt: rfc3339(c.startedAt),
      FinishedAt: rfc3339(c.finishedAt),
      ...(c.health ? { Health: healthJson(c.health) } : {}),
    },
    Image: c.imageDigest,
    ResolvConfPath: ns.resolvConfPath,
    HostnamePath: ns.hostnamePath,
    HostsPath: ns.hostsPath,
    LogPath: c.logPath,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: 'overlay',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    // berth's own: which seccomp filter the container runs under ("default"
    // = Docker's profile, "unconfined" = none, "custom" = --security-opt seccomp=<file>).
    SeccompProfile: seccompProfileNameOf(h),
    ExecIDs: null,
    HostConfig: {
      Binds: nullIfEmpty(binds),
      NetworkMode: h.networkMode,
      PortBindings: portMap([], h.portBindings, false),
      RestartPolicy: { Name: h.restartPolicy.name, MaximumRetryCount: h.restartPolicy.maximumRetryCount },
      AutoRemove: h.autoRemove,
      LogConfig: { Type: h.logConfig.type || 'k8s-file', Config: h.logConfig.config },
      CapAdd: nullIfEmpty(h.capAdd),
      CapDrop: nullIfEmpty(h.capDrop),
      SecurityOpt: nullIfEmpty(h.securityOpt),
      Privileged: h.privileged ?? false,
      Devices: (h.devices ?? []).map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer || d.pathOnHost, CgroupPermissions: d.cgroupPermissions || 'rwm' })),
      DeviceCgroupRules: nullIfEmpty(h.deviceCgroupRules ?? []),
      // "private" unless --cgroupns host (berth's default on v1 and v2 alike; docs/security.md).
      CgroupnsMode: h.cgroupnsMode || 'private',
      ReadonlyRootfs: h.readonlyRootfs,
      Tmpfs: Object.keys(tmpfs).length ? tmpfs : null,
      UsernsMode: h.usernsMode,
      // --userns auto: the allocated host ranges, "container:host:size" as Podman shows them.
      ...(c.idMapping ? { IDMappings: { UidMap: formatIdRanges(c.idMapping.uidMappings), GidMap: formatIdRanges(c.idMapping.gidMappings) } } : {}),
      Memory: h.memory,
      MemorySwap: h.memorySwap,
      NanoCpus: h.nanoCpus,
      CpuShares: h.cpuShares,
      CpusetCpus: h.cpusetCpus,
      CpusetMems: h.cpusetMems ?? '',
      IpcMode: h.ipcMode || 'private',
      PidMode: h.pidMode ?? '',
      UTSMode: h.utsMode ?? '',
      Sysctls: h.sysctls && Object.keys(h.sysctls).length ? h.sysctls : null,
      Dns: h.dns ?? [],
      DnsSearch: h.dnsSearch ?? [],
      DnsOptions: h.dnsOptions ?? [],
      GroupAdd: h.groupAdd?.length ? h.groupAdd : null,
      OomScoreAdj: h.oomScoreAdj ?? 0,
      PublishAllPorts: h.publishAllPorts ?? false,
      ShmSize: h.shmSize ?? 64 * 1024 * 1024,
      CgroupParent: h.cgroupParent ? `/${h.cgroupParent}` : '',
      ExtraHosts: h.extraHosts?.length ? h.extraHosts : null,
      VolumesFrom: h.volumesFrom?.length ? h.volumesFrom : null,
      Ulimits: h.ulimits?.length ? h.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) : null,
      CpuPeriod: h.cpuPeriod ?? 0,
      CpuQuota: h.cpuQuota ?? 0,
      MemoryReservation: h.memoryReservation ?? 0,
      MemorySwappiness: h.memorySwappiness ?? null,
      KernelMemory: h.kernelMemory ?? 0,
      OomKillDisable: h.oomKillDisable ?? false,
      BlkioWeight: h.blkioWeight ?? 0,
      BlkioWeightDevice: (h.blkioWeightDevice ?? []).map((d) => ({ Path: d.path, Weight: d.weight })),
      BlkioDeviceReadBps: (h.blkioDeviceReadBps ?? []).map((d) => ({ Path: d.path, Rate: d.rate })),
      BlkioDeviceWriteBps: (h.blkioDeviceWriteBps ?? []).map((d) => ({ Path: d.path, Rate: d.rate })),
      BlkioDeviceReadIOps: (h.blkioDeviceReadIops ?? []).map((d) => ({ Path: d.path, Rate: d.rate })),
      BlkioDeviceWriteIOps: (h.blkioDeviceWriteIops ?? []).map((d) => ({ Path: d.path, Rate: d.rate })),
      PidsLimit: h.pidsLimit > 0 ? h.pidsLimit : null,
      Init: h.init ? true : null,
    },
    GraphDriver: { Name: 'overlay', Data: c.rootfs ? { MergedDir: c.rootfs } : null },
    Mounts: c.mounts.filter((m) => m.type !== 'tmpfs').map(mountJson),
    Config: {
      Hostname: cfg.hostname || c.id.slice(0, 12),
      Domainname: cfg.domainname,
      MacAddress: h.macAddress ?? '',
      User: cfg.user,
      AttachStdin: cfg.attachStdin,
      AttachStdout: cfg.attachStdout,
      AttachStderr: cfg.attachStderr,
      ExposedPorts: setOf(cfg.exposedPorts),
      Tty: cfg.tty,
      OpenStdin: cfg.openStdin,
      StdinOnce: cfg.openStdin && cfg.attachStdin,
      Env: cfg.env,
      Cmd: cfg.cmd,
      Image: cfg.image,
      Volumes: setOf(cfg.volumes),
      WorkingDir: cfg.workingDir,
      Entrypoint: cfg.entrypoint,
      OnBuild: null,
      Labels: cfg.labels,
      ...(cfg.stopSignal ? { StopSignal: cfg.stopSignal } : {}),
      ...(cfg.stopTimeout !== null ? { StopTimeout: cfg.stopTimeout } : {}),
      ...(cfg.healthcheck ? { Healthcheck: healthConfigToDocker(cfg.healthcheck) } : {}),
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: ns.sandboxKey ? c.id : '',
      SandboxKey: ns.sandboxKey,
      Ports: portMap(cfg.exposedPorts, ns.ports, true),
      Gateway: ns.gateway,
      IPAddress: ns.ipAddress,
      IPPrefixLen: ns.ipPrefixLen,
      MacAddress: ns.macAddress,
      Networks: Object.fromEntries(Object.entries(ns.networks).map(([name, n]) => [name, n, endpointAliases(name, n.aliases)] as const).map(([name, n, aliases]) => [name, {
        IPAMConfig: n.ipamIpv4Address ? { IPv4Address: n.ipamIpv4Address } : null, Links: n.links?.length ? n.links : null, Aliases: nullIfEmpty(aliases), MacAddress: n.macAddress, NetworkID: n.networkId,
        EndpointID: '', Gateway: n.gateway, IPAddress: n.ipAddress, IPPrefixLen: n.ipPrefixLen, IPv6Gateway: '',
        GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: nullIfEmpty([c.name, c.id.slice(0, 12), ...aliases.filter((a) => a !== c.name)]),
      }])),
    },
  };
}
