// The engine's vocabulary: what a container record holds.
//
// Field names follow Docker's API types (camelCased) so inspect output can be
// produced by renaming, and so the proto (protos/berth/engine/v1/engine.proto)
// maps one to one: CreateContainerRequest carries ContainerConfig + HostConfig.

import { logBounds, type LogBounds } from '@berth/cri-log';
import type { ContainerConfig, HostConfig, MountSpec, PortBinding, RestartPolicy } from '@berth/container-config';
export type { ContainerConfig, HostConfig, MountSpec, PortBinding, RestartPolicy };

/**
 * Lifecycle states. Docker's statuses, minus "dead" (berth never leaves a
 * half-removed record: removal is one transaction) plus "removed", which is
 * only ever observed in events and in the state machine, never in the store.
 */
export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'removed';

/** A mount as resolved at create time (what inspect's Mounts shows and the runtime binds). */
export interface MountPoint {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Volume name for type volume, "" otherwise. */
  name: string;
  /** Host path: the bind source or the volume's data dir; "" for tmpfs. */
  source: string;
  destination: string;
  rw: boolean;
  /** Options as given (ro/rw excluded): "nocopy", "z", "rprivate", tmpfs "size=64m"... */
  options: string[];
}

/** A container's presence on one network (inspect's NetworkSettings.Networks entry). */
export interface EndpointSettings {
  networkId: string;
  /** "" while the container is not running (a connection waiting for start). */
  ipAddress: string;
  ipPrefixLen: number;
  gateway: string;
  macAddress: string;
  aliases: string[];
  /** The address asked for with --ip (inspect's IPAMConfig.IPv4Address); absent when IPAM chose. */
  ipamIpv4Address?: string;
  /** --link entries, "NAME:ALIAS" (inspect's Links). */
  links?: string[];
}

/**
 * A network a container was connected to besides the one it was created on
 * (docker network connect). Kept in the record and attached at every start,
 * after the --network one, in the order connected (eth1, eth2...).
 */
export interface NetworkConnection {
  network: string;
  /** Extra DNS names there (--alias). */
  aliases: string[];
  /** Fixed address (--ip); "" = the next free one at each attach. */
  ip: string;
  /** --link: "NAME:ALIAS", the linked container's name when connected; absent = none. */
  links?: string[];
}

export interface NetworkSettings {
  ipAddress: string;
  ipPrefixLen: number;
  gateway: string;
  macAddress: string;
  /** Published ports after the networks service allocated host ports. */
  ports: PortBinding[];
  /** Per-network endpoint detail, keyed by network name. */
  networks: Record<string, EndpointSettings>;
  sandboxKey: string;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
}

/** One id range of a user namespace mapping: [containerId, +size) inside is [hostId, +size) on the host. */
export interface IdRange {
  containerId: number;
  hostId: number;
  size: number;
}

/** A container's user namespace mapping (--userns auto), as allocated by the engine. */
export interface IdMapping {
  uidMappings: IdRange[];
  gidMappings: IdRange[];
}

/** One container as stored. Times are epoch milliseconds; 0 = never. */
export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  imageDigest: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  oomKilled: boolean;
  /** Last start/runtime error message, "" when none. */
  error: string;
  restartCount: number;
  /** Set by stop/kill from the user; unless-stopped will not restart it (also across engine restarts). */
  manuallyStopped: boolean;
  pid: number;
  /** The process args actually run (entrypoint + cmd after merge). */
  path: string;
  args: string[];
  networkSettings: NetworkSettings;
  /** Networks connected with network connect; absent in records older than the feature (= none). */
  connections?: NetworkConnection[];
  /**
   * --userns auto: the host ids allocated to the container (its root is the
   * first uid/gid), held until the record is deleted. Absent: the host's
   * user namespace.
   */
  idMapping?: IdMapping;
  /** Absolute path of the prepared root filesystem ("" until prepared). */
  rootfs: string;
  /** Mounts resolved at create time (volumes created, anonymous ones named). */
  mounts: MountPoint[];
  /** Path of the container's CRI-format log file. */
  logPath: string;
  /** Monotonic creation sequence; orders `ps` and resolves before/since. */
  seq: number;
  /** Healthcheck state (health.ts), present once a container with a healthcheck started; inspect's State.Health. */
  health?: HealthState;
}

/** One probe's result (Docker's HealthcheckResult); times epoch ms. */
export interface HealthLogEntry {
  start: number;
  end: number;
  /** 0 healthy, else a failure; -1 when the probe timed out or could not run. */
  exitCode: number;
  /** stdout and stderr, at most 4096 bytes (then "..."). */
  output: string;
}

/** Docker's Health: the status, the consecutive failures, the last 5 results (oldest first). */
export interface HealthState {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  log: HealthLogEntry[];
}

export function emptyNetworkSettings(): NetworkSettings {
  return {
    ipAddress: '', ipPrefixLen: 0, gateway: '', macAddress: '', ports: [], networks: {},
    sandboxKey: '', hostsPath: '', resolvConfPath: '', hostnamePath: '',
  };
}

export function defaultContainerConfig(image: string): ContainerConfig {
  return {
    hostname: '', domainname: '', user: '', env: [], cmd: null, entrypoint: null, workingDir: '',
    exposedPorts: [], volumes: [], labels: {}, stopSignal: '', stopTimeout: null, tty: false,
    openStdin: false, attachStdin: false, attachStdout: true, attachStderr: true, image,
  };
}

export function defaultHostConfig(): HostConfig {
  return {
    memory: 0, memorySwap: 0, nanoCpus: 0, cpuShares: 0, cpusetCpus: '', pidsLimit: 0,
    networkMode: 'bridge', portBindings: [], mounts: [], readonlyRootfs: false, init: false,
    restartPolicy: { name: 'no', maximumRetryCount: 0 }, capAdd: [], capDrop: [], usernsMode: '',
    autoRemove: false, logConfig: { type: '', config: {} }, securityOpt: [],
    privileged: false, devices: [], deviceCgroupRules: [], cgroupnsMode: '',
  };
}

/** The log rotation a container's --log-opt asks for (validated at create; defaults for older records). */
export function logBoundsOf(h: HostConfig): LogBounds {
  return logBounds(h.logConfig.type, h.logConfig.config, 'host_config.log_config');
}
