// The cgroup limits beyond --memory/--cpus/--cpu-shares/--cpuset-cpus/
// --pids-limit: Docker's --memory-reservation, --memory-swappiness,
// --kernel-memory, --oom-kill-disable, --cpu-period, --cpu-quota,
// --cpuset-mems, --blkio-weight, --blkio-weight-device and
// --device-read/write-bps/iops. The shapes and the rules the CLI and the
// engine share (each check returns the reason a value is refused, or
// undefined); the engine maps them onto OCI linux.resources.

/** Docker's ThrottleDevice: a host block device and a rate (bytes or I/Os per second). */
export interface ThrottleDevice {
  path: string;
  rate: number;
}

/** Docker's WeightDevice: a host block device and a weight (10-1000). */
export interface WeightDevice {
  path: string;
  weight: number;
}

/** Docker's bounds (moby daemon/daemon_unix.go verifyPlatformContainerResources). */
export const MIN_CPU_PERIOD = 1000;
export const MAX_CPU_PERIOD = 1_000_000;
export const MIN_CPU_QUOTA = 1000;
export const MIN_BLKIO_WEIGHT = 10;
export const MAX_BLKIO_WEIGHT = 1000;

export const checkCpuPeriod = (v: number): string | undefined =>
  (v === 0 || (Number.isInteger(v) && v >= MIN_CPU_PERIOD && v <= MAX_CPU_PERIOD) ? undefined : `CPU cfs period must be between ${MIN_CPU_PERIOD} and ${MAX_CPU_PERIOD} microseconds (0 = the default 100000)`);

export const checkCpuQuota = (v: number): string | undefined =>
  (v === 0 || v === -1 || (Number.isInteger(v) && v >= MIN_CPU_QUOTA) ? undefined : `CPU cfs quota must be at least ${MIN_CPU_QUOTA} microseconds (0 or -1 = no quota)`);

export const checkSwappiness = (v: number): string | undefined =>
  (v === -1 || (Number.isInteger(v) && v >= 0 && v <= 100) ? undefined : 'memory swappiness must be from 0 to 100 (-1 = the kernel default)');

export const checkBlkioWeight = (v: number): string | undefined =>
  (v === 0 || (Number.isInteger(v) && v >= MIN_BLKIO_WEIGHT && v <= MAX_BLKIO_WEIGHT) ? undefined : `block I/O weight must be from ${MIN_BLKIO_WEIGHT} to ${MAX_BLKIO_WEIGHT} (0 = unset)`);

/**
 * "PATH:RATE" (--device-read-bps /dev/sda:1mb, --device-read-iops
 * /dev/sda:1000) with `parseRate` reading RATE (bytes with units, or a plain
 * count); an error string when the shape is wrong.
 */
export function parseThrottleDevice(v: string, parseRate: (r: string) => number | undefined): ThrottleDevice | { error: string } {
  const i = v.lastIndexOf(':');
  if (i <= 0) return { error: 'expected PATH:RATE, as in /dev/sda:1mb' };
  const path = v.slice(0, i);
  if (!path.startsWith('/')) return { error: `the device "${path}" must be an absolute path` };
  const rate = parseRate(v.slice(i + 1));
  if (rate === undefined || !Number.isFinite(rate) || rate < 0) return { error: `the rate "${v.slice(i + 1)}" is not a number >= 0` };
  return { path, rate };
}

/** "PATH:WEIGHT" (--blkio-weight-device /dev/sda:200). */
export function parseWeightDevice(v: string): WeightDevice | { error: string } {
  const i = v.lastIndexOf(':');
  if (i <= 0) return { error: 'expected PATH:WEIGHT, as in /dev/sda:200' };
  const path = v.slice(0, i);
  if (!path.startsWith('/')) return { error: `the device "${path}" must be an absolute path` };
  const text = v.slice(i + 1);
  const weight = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(weight >= MIN_BLKIO_WEIGHT && weight <= MAX_BLKIO_WEIGHT)) return { error: `the weight "${text}" must be from ${MIN_BLKIO_WEIGHT} to ${MAX_BLKIO_WEIGHT}` };
  return { path, weight };
}
