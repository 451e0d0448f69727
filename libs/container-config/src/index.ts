// @berth/container-config: Docker's portable container configuration
// (container.Config, HostConfig and their parts), camelCased. The CLI builds
// it from flags (libs/cli-kit) and the engine stores and applies it
// (libs/engine); both use these one definitions, which map one to one onto
// berth.engine.v1's CreateContainerRequest.
import type { DeviceMapping } from './devices';
import type { ThrottleDevice, WeightDevice } from './resources';
import type { Ulimit } from './ulimits';

export interface RestartPolicy {
  /** "no" | "always" | "unless-stopped" | "on-failure". */
  name: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  /** on-failure only: give up after this many restarts; 0 = no limit. */
  maximumRetryCount: number;
}

/** docker update: the limits and policy to change; an absent field stays as it is. */
export interface ContainerUpdate {
  /** Bytes. */
  memory?: number;
  /** Bytes of memory + swap; -1 = unlimited swap. */
  memorySwap?: number;
  /** CPUs x 1e9. */
  nanoCpus?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  restartPolicy?: RestartPolicy;
  /** Bytes; 0 = unset. */
  memoryReservation?: number;
  /** Microseconds; 0 = unset. */
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetMems?: string;
  /** 10-1000; 0 = unset. */
  blkioWeight?: number;
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
  /** With hostPort: publish the first free port of hostPort..hostPortEnd (-p 8000-8010:80); absent or 0 = hostPort alone. */
  hostPortEnd?: number;
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
  /** HEALTHCHECK / --health-*: absent or null = the image's; test ["NONE"] = none (--no-healthcheck). */
  healthcheck?: HealthConfig | null;
}

/**
 * Docker's HealthConfig (a container's or an image's HEALTHCHECK). Durations
 * are nanoseconds, as in Docker's API; 0 = inherit (the image's, else
 * Docker's default: interval 30s, timeout 30s, start period 0, start
 * interval 5s, retries 3).
 */
export interface HealthConfig {
  /** [] = inherit; ["NONE"]; ["CMD", arg...] (exec form); ["CMD-SHELL", "command"] (run by /bin/sh -c). */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

/** docker run --log-driver / --log-opt (Docker's LogConfig). */
export interface LogConfig {
  /** "" (default) = "k8s-file"; "json-file" is accepted as another name for it. */
  type: string;
  /** max-size ("10m", "-1" = never rotate), max-file (files kept). */
  config: Record<string, string>;
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
  /**
   * More DNS names of the container on the network it was created on (a user-defined one), beside its
   * name and short id: Docker's aliases given by a network connect before the first start (compose's
   * service names). Absent = none.
   */
  networkAliases?: string[];
  logConfig: LogConfig;
  /** --security-opt as given (Docker's HostConfig.SecurityOpt): no-new-privileges[=bool],
   * seccomp=unconfined|builtin|<profile JSON> (the CLI puts a profile file's content here). */
  securityOpt: string[];
  /** --privileged: every capability of the host's bounding set, every device (host /dev nodes too), no seccomp filter, /sys and /proc writable. */
  privileged: boolean;
  /** --device: host nodes made in the container, with an allow rule for each. */
  devices: DeviceMapping[];
  /** --device-cgroup-rule "c 1:11 rwm": allow rules added to the default device list. */
  deviceCgroupRules: string[];
  /** --cgroupns: "private" | "host" | "" (engine default: private). */
  cgroupnsMode: string;
  /** --memory-reservation: bytes, the soft limit; 0 / absent = none. */
  memoryReservation?: number;
  /** --memory-swappiness 0-100; -1 / absent = the kernel's. */
  memorySwappiness?: number;
  /** --kernel-memory: bytes; accepted and not applied (deprecated by Docker, ignored by newer kernels), with a warning. */
  kernelMemory?: number;
  /** --oom-kill-disable: the OOM killer leaves the container alone (it waits for memory instead). */
  oomKillDisable?: boolean;
  /** --cpu-period / --cpu-quota: CFS bandwidth in microseconds; 0 = unset (not with nanoCpus). */
  cpuPeriod?: number;
  cpuQuota?: number;
  /** --cpuset-mems: memory nodes, "0-1,3"; "" = all. */
  cpusetMems?: string;
  /** --blkio-weight 10-1000, 0 = unset; --blkio-weight-device; --device-read/write-bps/iops. */
  blkioWeight?: number;
  blkioWeightDevice?: WeightDevice[];
  blkioDeviceReadBps?: ThrottleDevice[];
  blkioDeviceWriteBps?: ThrottleDevice[];
  blkioDeviceReadIops?: ThrottleDevice[];
  blkioDeviceWriteIops?: ThrottleDevice[];
  /** --ulimit: the init's rlimits (-1 = unlimited); absent = inherited. */
  ulimits?: Ulimit[];
  /** -P: every exposed port (the image's EXPOSE included) without a binding gets a free host port at each start. */
  publishAllPorts?: boolean;
  /** --shm-size: bytes of the container's /dev/shm tmpfs; absent = 64 MiB, Docker's default. */
  shmSize?: number;
  /** --cgroup-parent / a pod's cgroup_parent, normalized ("kubepods/besteffort/pod<uid>"), nested inside berth's cgroup parent; absent = directly under it. */
  cgroupParent?: string;
  /** --add-host: more /etc/hosts lines, "name:ip" (ip may be host-gateway), as Docker's ExtraHosts. */
  extraHosts?: string[];
  /** --ip: the container's fixed IPv4 address on the user-defined network it is created on; absent = the next free one. */
  ipv4Address?: string;
  /** --mac-address: the MAC address of its interface on that network, "aa:bb:cc:dd:ee:ff"; absent = derived from the IP (02:42:...). */
  macAddress?: string;
  /** --storage-opt KEY=VALUE: the root filesystem driver's options; none is honoured (storage-opt.ts), so a record never has any. */
  storageOpt?: Record<string, string>;
  /** --volumes-from: "container[:ro|:rw]", whose volumes and binds this container mounts too. */
  volumesFrom?: string[];
  /** --ipc, --pid, --uts: "" (own namespace) | "host" | "container:<name|id>". Absent = "". */
  ipcMode?: string;
  pidMode?: string;
  utsMode?: string;
  /** --sysctl: namespaced kernel parameters. */
  sysctls?: Record<string, string>;
  /** --dns, --dns-search, --dns-option. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** --group-add: supplementary groups (numbers or names in the container's /etc/group). */
  groupAdd?: string[];
  /** Docker's MaskedPaths / ReadonlyPaths: absent or empty = Docker's defaults, given = exactly these. */
  maskedPaths?: string[];
  readonlyPaths?: string[];
  /** --oom-score-adj, -1000..1000; absent = inherited. */
  oomScoreAdj?: number;
}

export * from './validate';
export * from './devices';
export * from './health';
export * from './resources';
export * from './sysctl';
export * from './ulimits';
export * from './extra-hosts';
export * from './mac-address';
export * from './storage-opt';
export * from './cgroup-parent';
export * from './pod-labels';
