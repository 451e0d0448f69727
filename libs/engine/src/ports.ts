// The engine's view of the other berth services. Each port is the slice of a
// service's gRPC client the engine needs; grpc-ports/ adapts the generated
// clients to these interfaces. Keeping them this small is what
// lets the engine's sagas, restart logic and recovery be tested without gRPC.
//
// Conventions for every port:
//  - keys are the container id (64 hex); every call is idempotent for the same
//    key where it creates something (a retry after a lost reply must not leak)
//    and every remove/undo of something already gone succeeds (NotFound is
//    swallowed by the adapter), because rollback and recovery call them blindly.
//  - errors are @berth/errors kinds (the kit's client wrapper maps statuses).
import type { DeviceRule } from '@berth/container-config';
import type { DeviceNode } from './devices';
import type { LogBounds } from '@berth/cri-log';
import type { ImageConfig } from './merge';
import type { IdMapping } from './types';
import type { PodOptions } from './pod-options';
import type { EndpointSettings, MountPoint, NetworkSettings, PortBinding } from './types';

/** A local image ready to run. */
export interface ResolvedImage {
  /** Normalised reference ("docker.io/library/alpine:3.20"). */
  ref: string;
  /** Image (config) digest "sha256:...". */
  digest: string;
  config: ImageConfig;
  /** Layer chain ids, bottom layer first: what the layers service stacks. */
  layers: string[];
}

export type PullPolicy = 'missing' | 'always' | 'never';

/** A layer blob in the content store. */
export interface LayerDescriptor {
  mediaType: string;
  /** Digest of the (compressed) blob. */
  digest: string;
  /** Digest of the uncompressed tar (the image config's rootfs.diff_ids entry). */
  diffId: string;
  size: number;
}

export interface ImagesPort {
  /**
   * Creates an image whose layers are the parent's plus `layer` (already in
   * the content store, from LayersPort.diff), with `config`, named
   * `reference` when not "" (Images.Commit). Returns the new image ID.
   */
  createImage(req: { parentDigest: string; layer: LayerDescriptor; config: ImageConfig; author: string; comment: string; containerId: string; reference: string }): Promise<{ digest: string }>;
  /** The local image for `ref`, pulling per `pull`; NotFound when absent and not pullable. */
  resolve(ref: string, pull: PullPolicy): Promise<ResolvedImage>;
  /**
   * The container holds its image (a lease in the images service, created at
   * create, idempotent): while it is held, rmi of the image's last name is
   * refused with Docker's conflict message, rmi -f only untags, prune skips it.
   * NotFound when the image is gone.
   */
  addContainerRef(digest: string, containerId: string): Promise<void>;
  /** Releases the container's hold (at remove); already released is fine. */
  removeContainerRef(digest: string, containerId: string): Promise<void>;
  /**
   * Makes the images service's container holds match the engine's records
   * (container id -> image ID), at engine start: holds of containers the
   * engine no longer has go (a remove whose release failed, a create that
   * died before recording its image), and containers without one get it.
   */
  reconcileContainerRefs(held: Map<string, string>): Promise<void>;
}

export interface LayersPort {
  /**
   * A writable root (overlay upper on top of `layers`) keyed by container id;
   * returns its host path. With `idMapping` (--userns auto) every layer is
   * seen through idmapped mounts: image files show as the container's host
   * ids, and what its root writes is stored unshifted.
   */
  prepare(key: string, layers: string[], idMapping?: IdMapping): Promise<{ rootfs: string }>;
  /**
   * Makes sure the writable root `key` is mounted (idempotent) and returns
   * its host path: after a reboot, or a layers service that could not keep
   * it, a stopped container's root must be mounted again before it starts.
   */
  mount(key: string, idMapping?: IdMapping): Promise<{ rootfs: string }>;
  /** Exports the writable root's changes (whiteouts included) as a layer blob in the content store. */
  diff(key: string): Promise<LayerDescriptor>;
  /** Unmounts and deletes the writable root. */
  remove(key: string): Promise<void>;
  /**
   * Keys of every writable root `prepare` made that the layers service still
   * keeps, whether a container owns it or not (root-reconcile.ts removes the
   * ones none does). Roots are told from other snapshots by a label prepare
   * sets, not by the shape of their key.
   */
  listRoots(): Promise<string[]>;
}

/** Resource limits, in the units of HostConfig (bytes, nano-CPUs, shares). */
export interface CgroupResources {
  memory: number;
  memorySwap: number;
  nanoCpus: number;
  cpuShares: number;
  cpusetCpus: string;
  pidsLimit: number;
  /** Device access rules (devices.ts), applied in order; set at create only (update leaves them). */
  devices?: DeviceRule[];
  /** The limits of resources.ts; absent = unset. Bytes, microseconds, "0-1" node lists. */
  memoryReservation?: number;
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetMems?: string;
  /** Host block devices by major:minor (resolved from their paths). */
  blockIO?: {
    weight?: number;
    weightDevice: { major: number; minor: number; weight: number }[];
    throttleReadBpsDevice: { major: number; minor: number; rate: number }[];
    throttleWriteBpsDevice: { major: number; minor: number; rate: number }[];
    throttleReadIopsDevice: { major: number; minor: number; rate: number }[];
    throttleWriteIopsDevice: { major: number; minor: number; rate: number }[];
  };
}

/** Raw cgroup counters; cumulative values, read at one moment. */
export interface CgroupStats {
  /** Container CPU time, ns (cpu.stat usage_usec x 1000, or cpuacct.usage). */
  cpuUsageNs: number;
  /** Host CPU time over all CPUs at the same moment, ns (from /proc/stat). */
  systemCpuNs: number;
  onlineCpus: number;
  memoryUsage: number;
  /** The limit, or host memory when unlimited. */
  memoryLimit: number;
  /** Page cache docker stats subtracts (inactive_file). */
  inactiveFile: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

/** Who a cgroup belongs to, for the per-container metrics' labels (cAdvisor's name, image, container_label_*). */
export interface CgroupOwner {
  name: string;
  /** The image as the container was created from it (Config.Image). */
  image: string;
  /** The container's labels (io.kubernetes.* ones also make cAdvisor's pod/namespace/container labels). */
  labels: Record<string, string>;
}

export interface CgroupsPort {
  /**
   * Creates the container's cgroup with limits; returns its path (for the
   * namespaces service to join). `nestedParent` (HostConfig.cgroup_parent,
   * normalized) puts it below that path inside berth's cgroup parent.
   */
  create(id: string, resources: CgroupResources, owner?: CgroupOwner, nestedParent?: string): Promise<{ path: string }>;
  /** The container was renamed: its metrics' name label follows. */
  rename?(id: string, name: string): Promise<void>;
  /** Removes the cgroup (kills stragglers first). */
  remove(id: string): Promise<void>;
  /** Changes limits of a live container (docker update). */
  update(id: string, resources: CgroupResources): Promise<void>;
  /** One reading of the container's counters (docker stats). */
  readStats(id: string): Promise<CgroupStats>;
  /** Pids of every process in the container's cgroup (docker top). */
  pids(id: string): Promise<number[]>;
  /** Freezes every process in the cgroup (docker pause). */
  freeze(id: string): Promise<void>;
  thaw(id: string): Promise<void>;
}

/** What the namespaces service needs to create the container's init, paused before exec. */
export interface ProcessSpec {
  rootfs: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  hostname: string;
  /** The NIS domain name (--domainname); "" = none set. */
  domainname?: string;
  terminal: boolean;
  openStdin: boolean;
  cgroupPath: string;
  mounts: MountPoint[];
  capAdd: string[];
  capDrop: string[];
  init: boolean;
  /** "host" | "auto" | "". */
  usernsMode: string;
  /** --userns auto: a new user namespace with these mappings (the root dir is idmapped already). */
  idMapping?: IdMapping;
  /** "none"/"bridge"/name: new netns; "host": host netns; "container:<id>": join that one. */
  networkMode: string;
  logPath: string;
  /** Rotation of the container's log (--log-opt), kept by the monitor and by the engine's copy alike. */
  logBounds: LogBounds;
  /** HostConfig.securityOpt: the seccomp profile (resolved for the container's
   * capabilities by the port) and no_new_privs (security.ts). */
  securityOpt: string[];
  /** --privileged: no seccomp filter, whatever securityOpt says; every
   * capability of the host's bounding set, no masked or read-only paths,
   * /sys and the cgroup mount writable. */
  privileged?: boolean;
  /** Nodes made in the container's /dev (--device; every host node with --privileged). */
  devices?: DeviceNode[];
  /** "private" (default) or "host": whether the container gets its own cgroup namespace. */
  cgroupnsMode?: string;
  /** --ulimit: the init's rlimits by Docker name (-1 = unlimited). */
  ulimits?: { name: string; soft: number; hard: number }[];
  /** Namespace sharing (ipc/pid/uts "host" or "container:<id>"), sysctls, masked and read-only paths, oom_score_adj (pod-options.ts). */
  pod?: PodOptions;
}

/** How a process ended, as the namespaces service reports it. */
export interface ExitStatus {
  exitCode: number;
  /** Signal name when killed by a signal ("SIGKILL"); exitCode is then 128+n. */
  signal: string;
  oomKilled: boolean;
  /** Epoch ms the monitor saw the exit. */
  exitedAt: number;
}

/** An extra process in a running container (docker exec). */
export interface ExecSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  terminal: boolean;
  openStdin: boolean;
  privileged: boolean;
  /** The container's no_new_privs (--security-opt no-new-privileges). */
  noNewPrivileges: boolean;
  /** The container's --cap-add/--cap-drop: an exec gets the init's capabilities. */
  capAdd?: string[];
  capDrop?: string[];
}

export interface NamespacesPort {
  /**
   * Creates namespaces and the init process, stopped before exec; returns its
   * host pid. The container's /etc/hosts, /etc/resolv.conf and /etc/hostname
   * are bound here, from the engine's files for the container (placeholders
   * until NetworksPort.writeHostsFiles fills them in place): the namespaces
   * service takes mounts only at create.
   */
  create(id: string, spec: ProcessSpec): Promise<{ pid: number }>;
  /** Lets the paused init exec the user's process. */
  start(id: string): Promise<void>;
  /**
   * Copies into the engine's log at logPath what the process wrote after the
   * log's last line, following it until the exit; `delete` waits for the copy.
   * Recovery calls it for a container that ran or exited while the engine was
   * down, so its log loses no line. Optional: a port whose service writes the
   * engine's log itself has nothing to copy.
   */
  mirrorLogs?(id: string, logPath: string, bounds: LogBounds): void;
  /**
   * Reopens the engine's log of a running container at its path: the file
   * being written is closed and the path opened again (created), so what
   * the process writes next goes to a file at the path, not to one renamed
   * away (kubelet rotates CRI logs by renaming them). The file exists when
   * this returns. FailedPrecondition when no log of the container is being
   * written (it is not running).
   */
  reopenLog(id: string): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  /** Waits up to timeoutMs for exit; null on timeout. */
  wait(id: string, timeoutMs: number): Promise<ExitStatus | null>;
  /** Starts `spec` inside the container's namespaces and cgroup; the exec id keys its streams. */
  exec(id: string, execId: string, spec: ExecSpec): Promise<{ pid: number }>;
  /** Resolves with the exec'd process's exit code (126/127 when it could not be run). */
  waitExec(id: string, execId: string): Promise<number>;
  /** Forgets the (dead) process and its monitor. */
  delete(id: string): Promise<void>;
  /**
   * What the service knows after an engine restart: live containers with their
   * pids, and exit statuses kept by monitors for containers that died meanwhile.
   */
  list(): Promise<{ id: string; pid: number; running: boolean; exit: ExitStatus | null }[]>;
}

/** What the engine checks a connection against before the container runs. */
export interface NetworkInfo {
  name: string;
  id: string;
  /** IPv4 CIDR ("" for a drop-in network that does not say). */
  subnet: string;
  gateway: string;
  /** The default network: no aliases, no fixed addresses (Docker's rule). */
  isDefault: boolean;
  /** "bridge" (berth's) or "cni" (drop-in). */
  driver: string;
}

export interface NetworksPort {
  /** Joins the container's netns to `networkMode`, publishing `ports`. */
  attach(id: string, req: { pid: number; networkMode: string; portBindings: PortBinding[]; hostname: string; aliases: string[]; ipv4Address?: string; macAddress?: string }): Promise<NetworkSettings>;
  detach(id: string): Promise<void>;
  /**
   * Attaches the container's netns (it has one: running, paused, or created
   * and not yet started) to one more network: the next interface, an address
   * (`ip`, or the next free one), DNS names `name`, the short id and `aliases`,
   * and `links` ("NAME:ALIAS": ALIAS resolves to NAME for this container only).
   * NotFound for an unknown network; AlreadyExists when already on it or the
   * address is taken; InvalidArgument for a bad address. Nothing stays on error.
   */
  connect(id: string, req: { pid: number; network: string; aliases: string[]; ip: string; hostname: string; name: string; links: string[] }): Promise<{ network: string; endpoint: EndpointSettings }>;
  /** Undoes connect for one network (interface, address, names); a container not on it is success. */
  disconnect(id: string, network: string): Promise<void>;
  /** A network by name; NotFound (naming it) when there is none. */
  inspectNetwork(name: string): Promise<NetworkInfo>;
  /** Writes the container's hosts, resolv.conf and hostname files on the host. */
  writeHostsFiles(id: string, req: { hostname: string; settings: NetworkSettings; networkMode: string; dns?: DnsSettings; extraHosts?: string[] }): Promise<{ hostsPath: string; resolvConfPath: string; hostnamePath: string }>;
  removeHostsFiles(id: string): Promise<void>;
  /** Bytes received / sent over the container's interfaces; zeros for host/none networking. */
  readCounters(id: string): Promise<{ rx: number; tx: number }>;
}

/** --dns, --dns-search, --dns-option for resolv.conf; empty lists = the network's defaults. */
export interface DnsSettings {
  servers: string[];
  search: string[];
  options: string[];
}

/** Reads a file inside a prepared rootfs, resolving symlinks within it; null when missing. */
export interface RootfsReader {
  readFile(rootfs: string, path: string): Promise<string | null>;
}

export interface EnginePorts {
  images: ImagesPort;
  layers: LayersPort;
  cgroups: CgroupsPort;
  namespaces: NamespacesPort;
  networks: NetworksPort;
  rootfs: RootfsReader;
}
