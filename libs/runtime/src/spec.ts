// The container spec berth's runtime runs: the OCI runtime spec's shape
// (config.md, config-linux.md) trimmed to what berth-shim implements, plus
// Docker's defaults and validation that names the offending field.
//
// Vocabulary: "namespace" is always a Linux namespace. Paths in `root`,
// `mounts[].source`, `linux.namespaces[].path` and `linux.cgroupsPaths` are
// host paths; `mounts[].destination`, `process.cwd`, masked and readonly
// paths are paths inside the container.
import { InvalidArgumentError } from '@berth/errors';
import { validateLinuxSeccomp, type LinuxSeccomp } from '@berth/seccomp';

/** linux.seccomp's OCI shape, part of the spec's surface. */
export type { LinuxSeccomp, LinuxSyscall, LinuxSeccompArg, SeccompAction, SeccompOperator } from '@berth/seccomp';

/** Linux namespace kinds, named as in the OCI spec. */
export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export interface Namespace {
  type: NamespaceType;
  /** Join this namespace (e.g. /proc/<pid>/ns/net, /run/netns/x); absent: a new one. */
  path?: string;
}

export interface IdMapping {
  /** First id inside the container. */
  containerID: number;
  /** First id on the host it maps to. */
  hostID: number;
  /** Number of ids mapped. */
  size: number;
}

export interface User {
  uid: number;
  gid: number;
  /** Supplementary groups (setgroups); empty clears them. */
  additionalGids?: number[];
}

/** Capability sets by name (CAP_CHOWN...); an absent set is empty. */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  permitted?: string[];
  inheritable?: string[];
  ambient?: string[];
}

/** A resource limit (setrlimit); 'unlimited' is RLIM_INFINITY. */
export interface Rlimit {
  type: string;
  soft: number | 'unlimited';
  hard: number | 'unlimited';
}

export interface ProcessSpec {
  /** argv; args[0] without a slash is looked up in env's PATH inside the container. */
  args: string[];
  /** KEY=VALUE entries, passed as is. */
  env: string[];
  /** Working directory inside the container; created when missing (like runc). */
  cwd: string;
  user: User;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  /** Allocate a pty inside the container; its master goes to the console socket. */
  terminal?: boolean;
  /** -1000..1000; lowering below the current value needs CAP_SYS_RESOURCE. */
  oomScoreAdj?: number;
}

export interface Mount {
  /** Absolute path inside the container; created when missing. */
  destination: string;
  /** Filesystem type (proc, tmpfs, sysfs, devpts, mqueue...) or "bind". */
  type: string;
  source: string;
  /** Flags (ro, nosuid, bind, rbind, rprivate...) and filesystem data (mode=755). */
  options?: string[];
}

/** A device node made in the container (OCI linux.devices[]). Access to it
 * is the cgroup's business (linux.resources.devices), not this list's. */
export interface LinuxDevice {
  /** Absolute path inside the container (/dev/kmsg). */
  path: string;
  /** "c" (character), "b" (block) or "p" (fifo). */
  type: 'c' | 'b' | 'p';
  major: number;
  minor: number;
  /** Permission bits (default 0666 & ~umask as runc: 0666 here). */
  fileMode?: number;
  uid?: number;
  gid?: number;
  /** The host node bound instead of mknod in a user namespace; default `path`. */
  hostPath?: string;
}

export const ROOTFS_PROPAGATIONS = ['rprivate', 'private', 'rslave', 'slave', 'rshared', 'shared', 'runbindable', 'unbindable'] as const;
export type RootfsPropagation = (typeof ROOTFS_PROPAGATIONS)[number];

export interface LinuxSpec {
  namespaces: Namespace[];
  /** Required with a new user namespace, forbidden otherwise. */
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  /** Hidden: /dev/null over files, an empty read-only tmpfs over directories. */
  maskedPaths?: string[];
  /** Bind-mounted read-only onto themselves. */
  readonlyPaths?: string[];
  /** Written to /proc/sys inside the container (dotted keys: net.ipv4.ip_forward). */
  sysctl?: Record<string, string>;
  /** Cgroup directories (absolute, under /sys/fs/cgroup) the init joins before
   * it runs anything; needed for a cgroup namespace rooted at them. */
  cgroupsPaths?: string[];
  /** Propagation of the container's "/" (default rprivate). */
  rootfsPropagation?: RootfsPropagation;
  /** Device nodes made in the container's root (after /dev is populated). */
  devices?: LinuxDevice[];
  /** The seccomp filter (OCI linux.seccomp) of the init and of every exec'd
   * process; absent = none. Not defaulted here: the engine chooses it
   * (@berth/seccomp), the runtime applies what it is given. */
  seccomp?: LinuxSeccomp;
}

export interface ContainerSpec {
  process: ProcessSpec;
  root: { path: string; readonly?: boolean };
  /** Needs a new uts namespace. */
  hostname?: string;
  /** The NIS domain name (setdomainname(2)); needs a new uts namespace. */
  domainname?: string;
  /** Mounted in order, after the root is bound onto itself. */
  mounts: Mount[];
  linux: LinuxSpec;
  /** Run berth-init as pid 1 (mounted read-only at /dev/init), with
   * process.args as its child: reaps zombies and forwards signals. */
  init?: boolean;
}

/** Every capability name berth knows, in kernel order (bit = index). */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Docker's default masked paths (moby oci/defaults.go). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Docker's default read-only paths. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Docker's default mounts, minus /sys/fs/cgroup (cgroup v1 hierarchies are
 * not mounted by berth-shim). /dev being a mount makes the shim populate it
 * (null, zero, full, random, urandom, tty, ptmx, fd and stdio links). */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  ];
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default namespaces: everything but user, cgroup and time. */
export const DEFAULT_NAMESPACES: readonly NamespaceType[] = ['pid', 'network', 'ipc', 'uts', 'mount'];

/** What a caller must give; everything else has a default. */
export interface ContainerSpecInput {
  process: Partial<ProcessSpec> & { args: string[] };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  linux?: Partial<LinuxSpec>;
  init?: boolean;
}

/** A spec with Docker's defaults for everything not given. Arrays given
 * replace the defaults (mounts given are used instead of defaultMounts()). */
export function withDefaults(input: ContainerSpecInput): ContainerSpec {
  const p = input.process;
  const caps = p.capabilities ?? {
    bounding: [...DEFAULT_CAPABILITIES],
    effective: [...DEFAULT_CAPABILITIES],
    permitted: [...DEFAULT_CAPABILITIES],
  };
  const linux = input.linux ?? {};
  const spec: ContainerSpec = {
    process: {
      args: [...p.args],
      env: p.env ? [...p.env] : [`PATH=${DEFAULT_PATH}`],
      cwd: p.cwd ?? '/',
      user: p.user ?? { uid: 0, gid: 0 },
      capabilities: caps,
      rlimits: p.rlimits ?? [],
      noNewPrivileges: p.noNewPrivileges ?? false,
      terminal: p.terminal ?? false,
      ...(p.oomScoreAdj === undefined ? {} : { oomScoreAdj: p.oomScoreAdj }),
    },
    root: { path: input.root.path, readonly: input.root.readonly ?? false },
    mounts: input.mounts ? [...input.mounts] : defaultMounts(),
    linux: {
      namespaces: linux.namespaces ? [...linux.namespaces] : DEFAULT_NAMESPACES.map((type) => ({ type })),
      uidMappings: linux.uidMappings ?? [],
      gidMappings: linux.gidMappings ?? [],
      maskedPaths: linux.maskedPaths ?? [...DEFAULT_MASKED_PATHS],
      readonlyPaths: linux.readonlyPaths ?? [...DEFAULT_READONLY_PATHS],
      sysctl: linux.sysctl ?? {},
      cgroupsPaths: linux.cgroupsPaths ?? [],
      rootfsPropagation: linux.rootfsPropagation ?? 'rprivate',
      ...(linux.devices && linux.devices.length > 0 ? { devices: linux.devices.map((d) => ({ ...d })) } : {}),
      ...(linux.seccomp ? { seccomp: linux.seccomp } : {}),
    },
    init: input.init ?? false,
  };
  if (input.hostname !== undefined) spec.hostname = input.hostname;
  if (input.domainname !== undefined) spec.domainname = input.domainname;
  return spec;
}

/** The simplest runnable spec: Docker defaults, args run on rootPath. */
export function defaultSpec(rootPath: string, args: string[]): ContainerSpec {
  return withDefaults({ process: { args }, root: { path: rootPath } });
}

export const RLIMIT_TYPES = [
  'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS', 'RLIMIT_NPROC',
  'RLIMIT_NOFILE', 'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME',
] as const;

const MAX_ID = 0xffff_fffe; // (uid_t)-1 means "no change" to the kernel

function bad(field: string, message: string): never {
  throw new InvalidArgumentError(`${field}: ${message}`, { field });
}

function checkString(field: string, v: unknown, opts: { absolute?: boolean; nonEmpty?: boolean } = {}): string {
  if (typeof v !== 'string') bad(field, `expected a string, got ${typeof v}`);
  if (v.includes('\0')) bad(field, 'contains a NUL byte, which no path or argument can hold');
  if (opts.nonEmpty && v === '') bad(field, 'must not be empty');
  if (opts.absolute && !v.startsWith('/')) bad(field, `"${v}" is not an absolute path`);
  return v;
}

function checkId(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID) bad(field, `expected an integer id in [0, ${MAX_ID}], got ${String(v)}`);
  return v;
}

function checkArray(field: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) bad(field, 'expected an array');
  return v;
}

/** Throws InvalidArgumentError naming the first bad field of a process. */
export function validateProcess(p: ProcessSpec, field = 'process'): void {
  if (typeof p !== 'object' || p === null) bad(field, 'expected an object');
  const args = checkArray(`${field}.args`, p.args);
  if (args.length === 0) bad(`${field}.args`, 'must have at least args[0], the program to run');
  args.forEach((a, i) => checkString(`${field}.args[${i}]`, a, { nonEmpty: i === 0 }));
  checkArray(`${field}.env`, p.env).forEach((e, i) => {
    const s = checkString(`${field}.env[${i}]`, e);
    if (s.indexOf('=') <= 0) bad(`${field}.env[${i}]`, `"${s}" is not KEY=VALUE`);
  });
  checkString(`${field}.cwd`, p.cwd, { absolute: true });
  if (typeof p.user !== 'object' || p.user === null) bad(`${field}.user`, 'expected {uid, gid}');
  checkId(`${field}.user.uid`, p.user.uid);
  checkId(`${field}.user.gid`, p.user.gid);
  (p.user.additionalGids ?? []).forEach((g, i) => checkId(`${field}.user.additionalGids[${i}]`, g));
  const caps = p.capabilities ?? {};
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
    (caps[set] ?? []).forEach((c, i) => {
      if (!(ALL_CAPABILITIES as readonly string[]).includes(c)) {
        bad(`${field}.capabilities.${set}[${i}]`, `unknown capability "${c}"; expected a name like CAP_CHOWN`);
      }
    });
  }
  for (const c of caps.effective ?? []) {
    if (!(caps.permitted ?? []).includes(c)) bad(`${field}.capabilities.effective`, `${c} is not in permitted (effective must be a subset)`);
  }
  for (const c of caps.ambient ?? []) {
    if (!(caps.permitted ?? []).includes(c) || !(caps.inheritable ?? []).includes(c)) {
      bad(`${field}.capabilities.ambient`, `${c} must also be permitted and inheritable`);
    }
  }
  (p.rlimits ?? []).forEach((r, i) => {
    const f = `${field}.rlimits[${i}]`;
    if (!(RLIMIT_TYPES as readonly string[]).includes(r.type)) bad(`${f}.type`, `unknown rlimit "${r.type}"; expected one of ${RLIMIT_TYPES.join(', ')}`);
    for (const k of ['soft', 'hard'] as const) {
      const v = r[k];
      if (v !== 'unlimited' && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) bad(`${f}.${k}`, `expected a non-negative integer or "unlimited", got ${String(v)}`);
    }
    const n = (v: number | 'unlimited') => (v === 'unlimited' ? Infinity : v);
    if (n(r.soft) > n(r.hard)) bad(`${f}.soft`, `soft limit ${r.soft} exceeds hard limit ${r.hard}`);
  });
  if (p.oomScoreAdj !== undefined && !(Number.isInteger(p.oomScoreAdj) && p.oomScoreAdj >= -1000 && p.oomScoreAdj <= 1000)) {
    bad(`${field}.oomScoreAdj`, `expected an integer in [-1000, 1000], got ${p.oomScoreAdj}`);
  }
}

function validateMappings(field: string, maps: IdMapping[]): void {
  maps.forEach((m, i) => {
    for (const k of ['containerID', 'hostID', 'size'] as const) {
      const v = m[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) bad(`${field}[${i}].${k}`, `expected an integer in [0, 4294967295], got ${String(v)}`);
    }
    if (m.size === 0) bad(`${field}[${i}].size`, 'must be at least 1');
  });
}

/** Throws InvalidArgumentError naming the first bad field of a spec. */
export function validateSpec(spec: ContainerSpec): void {
  validateProcess(spec.process);
  checkString('root.path', spec.root?.path, { absolute: true });
  checkArray('mounts', spec.mounts).forEach((m, i) => {
    const mm = m as Mount;
    checkString(`mounts[${i}].destination`, mm.destination, { absolute: true });
    checkString(`mounts[${i}].type`, mm.type, { nonEmpty: true });
    checkString(`mounts[${i}].source`, mm.source);
    (mm.options ?? []).forEach((o, k) => checkString(`mounts[${i}].options[${k}]`, o, { nonEmpty: true }));
  });
  const linux = spec.linux;
  const seen = new Set<string>();
  checkArray('linux.namespaces', linux.namespaces).forEach((ns, i) => {
    const n = ns as Namespace;
    if (!(NAMESPACE_TYPES as readonly string[]).includes(n.type)) {
      bad(`linux.namespaces[${i}].type`, `unknown namespace "${n.type}"; expected one of ${NAMESPACE_TYPES.join(', ')}`);
    }
    if (seen.has(n.type)) bad(`linux.namespaces[${i}].type`, `namespace "${n.type}" listed twice`);
    seen.add(n.type);
    if (n.path !== undefined) checkString(`linux.namespaces[${i}].path`, n.path, { absolute: true });
    if (n.type === 'mount' && n.path !== undefined) bad(`linux.namespaces[${i}].path`, 'joining a mount namespace is not supported: the container needs its own to pivot into its root');
  });
  const isNew = (t: NamespaceType) => linux.namespaces.some((n) => n.type === t && n.path === undefined);
  if (!isNew('mount')) bad('linux.namespaces', 'a new mount namespace ({type: "mount"}) is required');
  const uid = linux.uidMappings ?? [];
  const gid = linux.gidMappings ?? [];
  validateMappings('linux.uidMappings', uid);
  validateMappings('linux.gidMappings', gid);
  if (isNew('user') && (uid.length === 0 || gid.length === 0)) bad('linux.uidMappings', 'a new user namespace needs uidMappings and gidMappings');
  if (!isNew('user') && (uid.length > 0 || gid.length > 0)) bad('linux.uidMappings', 'id mappings are only valid with a new user namespace');
  if (spec.hostname !== undefined) {
    checkString('hostname', spec.hostname, { nonEmpty: true });
    if (spec.hostname.length > 64) bad('hostname', 'longer than 64 bytes');
    if (!isNew('uts')) bad('hostname', 'needs a new uts namespace');
  }
  if (spec.domainname !== undefined) {
    checkString('domainname', spec.domainname, { nonEmpty: true });
    if (spec.domainname.length > 64) bad('domainname', 'longer than 64 bytes');
    if (!isNew('uts')) bad('domainname', 'needs a new uts namespace');
  }
  (linux.maskedPaths ?? []).forEach((p, i) => checkString(`linux.maskedPaths[${i}]`, p, { absolute: true }));
  (linux.readonlyPaths ?? []).forEach((p, i) => checkString(`linux.readonlyPaths[${i}]`, p, { absolute: true }));
  (linux.cgroupsPaths ?? []).forEach((p, i) => checkString(`linux.cgroupsPaths[${i}]`, p, { absolute: true }));
  const has = (t: NamespaceType) => linux.namespaces.some((n) => n.type === t);
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) {
    const f = `linux.sysctl["${k}"]`;
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_*:-]+)*$/.test(k)) bad(f, 'expected a dotted key like net.ipv4.ip_forward');
    checkString(f, v);
    // Anything else would be written to the host's global value (runc's list).
    const ipc = /^(kernel\.msg|kernel\.shm|fs\.mqueue\.)/.test(k) || k === 'kernel.sem';
    const uts = k === 'kernel.hostname' || k === 'kernel.domainname';
    const net = k.startsWith('net.');
    if (!((ipc && has('ipc')) || (uts && has('uts')) || (net && has('network')))) {
      bad(f, 'not a sysctl of a namespace the container has (ipc: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*; uts: kernel.hostname, kernel.domainname; network: net.*)');
    }
  }
  if (linux.rootfsPropagation !== undefined && !(ROOTFS_PROPAGATIONS as readonly string[]).includes(linux.rootfsPropagation)) {
    bad('linux.rootfsPropagation', `unknown propagation "${linux.rootfsPropagation}"; expected one of ${ROOTFS_PROPAGATIONS.join(', ')}`);
  }
  if (linux.seccomp !== undefined) validateLinuxSeccomp(linux.seccomp, 'linux.seccomp');
  (linux.devices ?? []).forEach((d, i) => {
    const f = `linux.devices[${i}]`;
    checkString(`${f}.path`, d.path, { absolute: true });
    if (d.path === '/' || d.path.endsWith('/')) bad(`${f}.path`, `"${d.path}" does not name a file`);
    if (d.type !== 'c' && d.type !== 'b' && d.type !== 'p') bad(`${f}.type`, `"${String(d.type)}" is not c, b or p`);
    for (const k of ['major', 'minor'] as const) {
      if (!Number.isInteger(d[k]) || d[k] < 0 || d[k] > 0xffffffff) bad(`${f}.${k}`, `expected an integer in [0, 4294967295], got ${String(d[k])}`);
    }
    if (d.fileMode !== undefined && !(Number.isInteger(d.fileMode) && d.fileMode >= 0 && d.fileMode <= 0o7777)) bad(`${f}.fileMode`, `expected permission bits 0..0o7777, got ${d.fileMode}`);
    if (d.uid !== undefined) checkId(`${f}.uid`, d.uid);
    if (d.gid !== undefined) checkId(`${f}.gid`, d.gid);
    if (d.hostPath !== undefined) checkString(`${f}.hostPath`, d.hostPath, { absolute: true });
  });
  if (spec.init !== undefined && typeof spec.init !== 'boolean') bad('init', 'expected a boolean');
}
