// LinuxResources: cgroup limits with the OCI runtime spec's linux.resources
// semantics (runtime-spec config-linux.md, "Control groups"), spelled as in an
// OCI config.json (blockIO, disableOOMKiller). The proto message
// berth.types.v1.LinuxResources has the same shape; the gRPC handler maps
// field spellings. Every field is optional: absent = "leave as is" on update,
// "kernel default" on create. Numbers are plain JS numbers (bytes fit in 2^53).
import { cpus as hostCpus } from 'node:os';
import { InvalidArgumentError } from '@berth/errors';

export interface LinuxThrottleDevice {
  /** Block device major number (e.g. 254 for virtio vda). */
  major: number;
  /** Block device minor number. */
  minor: number;
  /** Bytes/s for *Bps* lists, I/O operations/s for *Iops* lists; 0 removes the throttle. */
  rate: number;
}

export interface LinuxWeightDevice {
  major: number;
  minor: number;
  /** 10..1000, as blkio.weight. */
  weight: number;
}

export interface LinuxCPU {
  /** Relative weight on the v1 cpu.shares scale, 2..262144 (kernel default 1024). v2: converted to cpu.weight. */
  shares?: number;
  /** CFS quota in microseconds per period; -1 = unlimited. `--cpus N` -> quota = N * period. */
  quota?: number;
  /** CFS period in microseconds, 1000..1000000 (kernel default 100000). */
  period?: number;
  /** CPUs allowed, cpuset list syntax ("0-2,4"). */
  cpus?: string;
  /** Memory nodes allowed, cpuset list syntax. */
  mems?: string;
}

export interface LinuxMemory {
  /** Hard limit in bytes; -1 = unlimited; at least 6 MiB. */
  limit?: number;
  /** Soft limit in bytes (v1 memory.soft_limit_in_bytes, v2 memory.low); -1 = none. */
  reservation?: number;
  /** Memory + swap limit in bytes (OCI/Docker semantics, >= limit); -1 = unlimited swap. */
  swap?: number;
  /** 0..100; v1 only (v2 has no per-cgroup swappiness: refused there). */
  swappiness?: number;
  /** Disable the OOM killer (v1 memory.oom_control); refused on v2, which has no such knob. */
  disableOOMKiller?: boolean;
}

export interface LinuxPids {
  /** Maximum number of tasks (threads count); 0 or -1 = unlimited. */
  limit: number;
}

export interface LinuxBlockIO {
  /** Relative weight 10..1000 (v1 blkio.weight; v2 io.weight via runc's conversion). */
  weight?: number;
  /** Per-device weights 10..1000. */
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

/**
 * One device access rule, OCI linux.resources.devices[] (config-linux.md,
 * "Device allowlist"). Rules apply in order, as the kernel's v1 devices
 * controller applies writes to devices.allow / devices.deny: a type "a" rule
 * resets the default (deny all, or allow all) and drops earlier exceptions;
 * later rules add or remove exceptions. v2 compiles the same list into an
 * eBPF device program with the same meaning (v2/devices.ts).
 */
export interface LinuxDeviceCgroup {
  /** true: allow the access; false: deny it. */
  allow: boolean;
  /** "a" (every device), "c" (character) or "b" (block); absent = "a". */
  type?: string;
  /** Device major number; absent or -1 = any ("*"). */
  major?: number;
  /** Device minor number; absent or -1 = any ("*"). */
  minor?: number;
  /** Some of "r" (read), "w" (write), "m" (mknod); absent = "rwm". */
  access?: string;
}

export interface LinuxResources {
  cpu?: LinuxCPU;
  memory?: LinuxMemory;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  /** Device access rules; absent = leave as is (on create: the kernel's default, every device). */
  devices?: LinuxDeviceCgroup[];
}

export const MIN_MEMORY_LIMIT = 6 * 1024 * 1024; // Docker's floor: below it a container cannot start.
export const CPU_SHARES_MIN = 2;
export const CPU_SHARES_MAX = 262144;
export const CPU_PERIOD_MIN = 1000;
export const CPU_PERIOD_MAX = 1000000;
export const CPU_QUOTA_MIN = 1000;
export const BLKIO_WEIGHT_MIN = 10;
export const BLKIO_WEIGHT_MAX = 1000;

const CPUSET_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

function bad(field: string, message: string): never {
  throw new InvalidArgumentError(`${field}: ${message}`, { field });
}

function int(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(field, `must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Bytes for messages: "64 MiB" when exact, "41.3 MiB" otherwise, plain below 1 KiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  if (Math.abs(n) < 1024) return `${n}`;
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * Checks every field against the range the kernel (and Docker) accept, so a
 * bad value fails with the field named before any cgroup file is touched.
 * Returns nothing; throws InvalidArgumentError naming the field.
 */
export function validateResources(r: LinuxResources, hostCpuCount = hostCpus().length): void {
  const cpu = r.cpu;
  if (cpu) {
    if (cpu.shares !== undefined && cpu.shares !== 0) {
      const s = int('cpu.shares', cpu.shares);
      if (s < CPU_SHARES_MIN || s > CPU_SHARES_MAX) bad('cpu.shares', `must be ${CPU_SHARES_MIN}..${CPU_SHARES_MAX}, got ${s}`);
    }
    if (cpu.period !== undefined && cpu.period !== 0) {
      const p = int('cpu.period', cpu.period);
      if (p < CPU_PERIOD_MIN || p > CPU_PERIOD_MAX) bad('cpu.period', `must be ${CPU_PERIOD_MIN}..${CPU_PERIOD_MAX} microseconds, got ${p}`);
    }
    if (cpu.quota !== undefined && cpu.quota !== 0 && cpu.quota !== -1) {
      const q = int('cpu.quota', cpu.quota);
      if (q < CPU_QUOTA_MIN) bad('cpu.quota', `must be -1 (unlimited) or at least ${CPU_QUOTA_MIN} microseconds, got ${q}`);
      const period = cpu.period || 100000;
      if (q / period > hostCpuCount) {
        bad('cpu.quota', `${q}us per ${period}us period is ${(q / period).toFixed(2)} CPUs, but only ${hostCpuCount} are available (range 0.01..${hostCpuCount}.00)`);
      }
    }
    for (const f of ['cpus', 'mems'] as const) {
      const v = cpu[f];
      if (v !== undefined && v !== '' && !CPUSET_LIST.test(v)) bad(`cpu.${f}`, `"${v}" is not a cpuset list (like "0-2,4")`);
    }
  }
  const mem = r.memory;
  if (mem) {
    if (mem.limit !== undefined && mem.limit !== 0 && mem.limit !== -1) {
      const l = int('memory.limit', mem.limit);
      if (l < MIN_MEMORY_LIMIT) bad('memory.limit', `${l} is below the minimum of 6 MiB`);
    }
    if (mem.reservation !== undefined && mem.reservation !== -1) {
      const v = int('memory.reservation', mem.reservation);
      if (v < 0) bad('memory.reservation', `must be -1 (none) or >= 0 bytes, got ${v}`);
      if (mem.limit !== undefined && mem.limit > 0 && v > mem.limit) {
        bad('memory.reservation', `${formatBytes(v)} is above memory.limit ${formatBytes(mem.limit)}; the reservation must not exceed the limit`);
      }
    }
    if (mem.swap !== undefined && mem.swap !== 0 && mem.swap !== -1) {
      const s = int('memory.swap', mem.swap);
      if (mem.limit === undefined || mem.limit <= 0) bad('memory.swap', 'a swap limit needs a memory.limit too (swap is memory+swap, as in Docker)');
      if (s < mem.limit) bad('memory.swap', `${formatBytes(s)} is below memory.limit ${formatBytes(mem.limit)}; memory.swap is memory+swap and must be >= memory.limit`);
    }
    if (mem.swappiness !== undefined) {
      const s = int('memory.swappiness', mem.swappiness);
      if (s < 0 || s > 100) bad('memory.swappiness', `must be 0..100, got ${s}`);
    }
  }
  if (r.pids) {
    const l = int('pids.limit', r.pids.limit);
    if (l < -1) bad('pids.limit', `must be -1 or 0 (unlimited) or a positive count, got ${l}`);
  }
  if (r.devices !== undefined) validateDeviceRules(r.devices);
  const bio = r.blockIO;
  if (bio) {
    const weight = (field: string, w: number) => {
      int(field, w);
      if (w !== 0 && (w < BLKIO_WEIGHT_MIN || w > BLKIO_WEIGHT_MAX)) bad(field, `must be ${BLKIO_WEIGHT_MIN}..${BLKIO_WEIGHT_MAX}, got ${w}`);
    };
    if (bio.weight !== undefined) weight('blockIO.weight', bio.weight);
    (bio.weightDevice ?? []).forEach((d, i) => {
      device(`blockIO.weightDevice[${i}]`, d);
      weight(`blockIO.weightDevice[${i}].weight`, d.weight);
    });
    for (const list of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
      (bio[list] ?? []).forEach((d, i) => {
        device(`blockIO.${list}[${i}]`, d);
        const rate = int(`blockIO.${list}[${i}].rate`, d.rate);
        if (rate < 0) bad(`blockIO.${list}[${i}].rate`, `must be >= 0, got ${rate}`);
      });
    }
  }
}

/** Checks a device rule list (type a/b/c, majors and minors -1 or >= 0, access a subset of rwm). */
export function validateDeviceRules(rules: LinuxDeviceCgroup[], field = 'devices'): void {
  if (!Array.isArray(rules)) bad(field, 'expected a list of device rules');
  rules.forEach((r, i) => {
    const f = `${field}[${i}]`;
    if (typeof r !== 'object' || r === null || typeof r.allow !== 'boolean') bad(`${f}.allow`, 'expected true (allow) or false (deny)');
    const type = r.type ?? 'a';
    if (type !== 'a' && type !== 'b' && type !== 'c') bad(`${f}.type`, `"${type}" is not a device type; expected a (all), c (character) or b (block)`);
    for (const k of ['major', 'minor'] as const) {
      const v = r[k];
      if (v === undefined) continue;
      const n = int(`${f}.${k}`, v);
      if (n < -1 || n > 0xffffffff) bad(`${f}.${k}`, `must be -1 (any) or 0..4294967295, got ${n}`);
    }
    const access = r.access ?? 'rwm';
    if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) bad(`${f}.access`, `"${access}" is not a device access; expected some of r, w, m (like "rwm" or "r")`);
  });
}

function device(field: string, d: { major: number; minor: number }): void {
  const major = int(`${field}.major`, d.major);
  const minor = int(`${field}.minor`, d.minor);
  if (major < 0 || minor < 0) bad(field, `device ${major}:${minor} is not a major:minor pair`);
}

/** Overlays `update` on `base` field by field (update wins where set). Used to remember the effective spec. */
export function mergeResources(base: LinuxResources, update: LinuxResources): LinuxResources {
  const out: LinuxResources = { ...base };
  if (update.cpu) out.cpu = { ...base.cpu, ...stripUndefined(update.cpu) };
  if (update.memory) out.memory = { ...base.memory, ...stripUndefined(update.memory) };
  if (update.pids) out.pids = { ...update.pids };
  if (update.blockIO) out.blockIO = { ...base.blockIO, ...stripUndefined(update.blockIO) };
  if (update.devices) out.devices = update.devices.map((d) => ({ ...d }));
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
