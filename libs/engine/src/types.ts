// The engine's vocabulary: what a container record holds.
//
// Field names follow Docker's API types (camelCased) so inspect output can be
// produced by renaming, and so the proto (protos/berth/engine/v1/engine.proto)
// maps one to one: CreateContainerRequest carries ContainerConfig + HostConfig.

/**
 * Lifecycle states. Docker's statuses, minus "dead" (berth never leaves a
 * half-removed record: removal is one transaction) plus "removed", which is
 * only ever observed in events and in the state machine, never in the store.
 */
export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'removed';

export interface RestartPolicy {
  /** "no" | "always" | "unless-stopped" | "on-failure". */
  name: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  /** on-failure only: give up after this many restarts; 0 = no limit. */
  maximumRetryCount: number;
}

/** One published port: container port/proto -> host ip:port. */
export interface PortBinding {
  containerPort: number;
  /** "tcp" | "udp" | "sctp". */
  protocol: string;
  /** Host address; "" = all addresses. */
  hostIp: string;
  /** Host port; 0 = let the networks service pick one. */
  hostPort: number;
}

/**
 * A mount from -v/--mount/--tmpfs. `type` decides which fields matter:
 * bind (source = absolute host path), volume (source = volume name, "" =
 * anonymous: the engine creates one), tmpfs (source unused).
 */
export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
  /** Extra options: tmpfs "size=64m,mode=1777", bind propagation, "nocopy", "z"/"Z". */
  options: string[];
}

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

/** Portable container configuration: Docker's container.Config. */
export interface ContainerConfig {
  hostname: string;
  domainname: string;
  /** "uid", "name", "uid:gid" or "name:group"; "" = image default / root. */
  user: string;
  /** "KEY=value" entries, request overriding the image by key. */
  env: string[];
  /** null = not given (take the image's); [] = given empty. */
  cmd: string[] | null;
  /** null = not given; [""] = reset to none (--entrypoint ""). */
  entrypoint: string[] | null;
  workingDir: string;
  /** "80/tcp" keys. */
  exposedPorts: string[];
  /** Anonymous-volume paths from the image VOLUME or `-v /path`. */
  volumes: string[];
  labels: Record<string, string>;
  stopSignal: string;
  /** Seconds to wait after stopSignal before SIGKILL; null = engine default (10). */
  stopTimeout: number | null;
  tty: boolean;
  openStdin: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  /** The image reference as the user wrote it. */
  image: string;
}

/** Host-specific configuration: Docker's container.HostConfig (the subset berth implements). */
export interface HostConfig {
  /** Bytes; 0 = unlimited. */
  memory: number;
  /** Bytes of memory+swap; -1 = unlimited swap; 0 = twice memory (Docker default). */
  memorySwap: number;
  /** CPU quota in units of 1e-9 CPUs (--cpus 1.5 = 1_500_000_000). */
  nanoCpus: number;
  /** Relative weight (cgroup v1 shares; converted for v2); 0 = default 1024. */
  cpuShares: number;
  /** "0-3,5"; "" = all. */
  cpusetCpus: string;
  /** 0 or -1 = unlimited. */
  pidsLimit: number;
  /** "bridge" | "none" | "host" | "container:<id>" | network name. */
  networkMode: string;
  portBindings: PortBinding[];
  mounts: MountSpec[];
  readonlyRootfs: boolean;
  init: boolean;
  restartPolicy: RestartPolicy;
  /** Normalised "CAP_X" names or "ALL". */
  capAdd: string[];
  capDrop: string[];
  /** "host" | "auto" | "" (engine default). */
  usernsMode: string;
  /** --rm: remove the container when it exits. */
  autoRemove: boolean;
}

export interface NetworkSettings {
  ipAddress: string;
  ipPrefixLen: number;
  gateway: string;
  macAddress: string;
  /** Published ports after the networks service allocated host ports. */
  ports: PortBinding[];
  /** Per-network endpoint detail, keyed by network name. */
  networks: Record<string, { networkId: string; ipAddress: string; ipPrefixLen: number; gateway: string; macAddress: string; aliases: string[] }>;
  sandboxKey: string;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
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
  /** Absolute path of the prepared root filesystem ("" until prepared). */
  rootfs: string;
  /** Mounts resolved at create time (volumes created, anonymous ones named). */
  mounts: MountPoint[];
  /** Path of the container's CRI-format log file. */
  logPath: string;
  /** Monotonic creation sequence; orders `ps` and resolves before/since. */
  seq: number;
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
    autoRemove: false,
  };
}
