// The cgroup limits of HostConfig beyond the basic five (container-config
// resources.ts: --memory-reservation, --memory-swappiness, --kernel-memory,
// --oom-kill-disable, --cpu-period, --cpu-quota, --cpuset-mems,
// --blkio-weight, --blkio-weight-device, --device-read/write-bps/iops):
// checked with the rest of a create request (validate.ts), then turned into
// the cgroups port's resources. Throttle and weight devices name host block
// devices by path, as Docker's do; the engine resolves each to its
// major:minor when the request is checked, so a path that is not a block
// device is refused by name before anything is created.
import { statSync } from 'node:fs';
import {
  checkBlkioWeight, checkCpuPeriod, checkCpuQuota, checkCpuset, checkSwappiness, checkUlimit, quoteValue,
  type HostConfig, type ThrottleDevice, type WeightDevice,
} from '@berth/container-config';
import { InvalidArgumentError } from '@berth/errors';
import { deviceNumbers } from './devices';
import type { CgroupResources } from './ports';

const invalid = (field: string, value: unknown, why: string): InvalidArgumentError =>
  new InvalidArgumentError(`invalid ${field} "${quoteValue(String(value))}": ${why}`, { field });

/** The host block device at `path` (a symlink followed), as major:minor; InvalidArgument naming `field` otherwise. */
export function blockDeviceOf(path: string, field: string): { major: number; minor: number } {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw invalid(field, path, `no such device on the host (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isBlockDevice()) throw invalid(field, path, 'not a block device: I/O limits apply to block devices such as /dev/sda');
  return deviceNumbers(st.rdev);
}

const THROTTLES = [
  ['blkioDeviceReadBps', 'blkio_device_read_bps'],
  ['blkioDeviceWriteBps', 'blkio_device_write_bps'],
  ['blkioDeviceReadIops', 'blkio_device_read_iops'],
  ['blkioDeviceWriteIops', 'blkio_device_write_iops'],
] as const;

/**
 * Checks the fields against each other and the host (memory nodes online,
 * block devices present). `field` names as the proto spells them.
 */
export function checkExtraResources(h: HostConfig): void {
  const f = (n: string) => `host_config.${n}`;
  const nonNegative = (n: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw invalid(f(n), v, 'expected bytes >= 0 (0 = unset)');
  };
  nonNegative('memory_reservation', h.memoryReservation);
  nonNegative('kernel_memory', h.kernelMemory);
  if (h.memoryReservation && h.memory > 0 && h.memoryReservation > h.memory) {
    throw invalid(f('memory_reservation'), h.memoryReservation, `the memory limit (${h.memory}) must be at least the reservation`);
  }
  if (h.memorySwappiness !== undefined) {
    const why = checkSwappiness(h.memorySwappiness);
    if (why) throw invalid(f('memory_swappiness'), h.memorySwappiness, why);
  }
  if (h.cpuPeriod !== undefined && checkCpuPeriod(h.cpuPeriod)) throw invalid(f('cpu_period'), h.cpuPeriod, checkCpuPeriod(h.cpuPeriod)!);
  if (h.cpuQuota !== undefined && checkCpuQuota(h.cpuQuota)) throw invalid(f('cpu_quota'), h.cpuQuota, checkCpuQuota(h.cpuQuota)!);
  if (h.nanoCpus > 0 && (h.cpuPeriod || (h.cpuQuota && h.cpuQuota > 0))) {
    throw invalid(f('nano_cpus'), h.nanoCpus, 'conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set (--cpus is a quota over a 100 ms period)');
  }
  if (h.cpusetMems) {
    const why = checkCpuset(h.cpusetMems);
    if (why) throw invalid(f('cpuset_mems'), h.cpusetMems, why.replace('CPU', 'memory node'));
  }
  if (h.blkioWeight !== undefined && checkBlkioWeight(h.blkioWeight)) throw invalid(f('blkio_weight'), h.blkioWeight, checkBlkioWeight(h.blkioWeight)!);
  (h.blkioWeightDevice ?? []).forEach((d, i) => {
    if (checkBlkioWeight(d.weight) || d.weight === 0) throw invalid(f(`blkio_weight_device[${i}].weight`), d.weight, 'block I/O weight must be from 10 to 1000');
    blockDeviceOf(d.path, f(`blkio_weight_device[${i}].path`));
  });
  (h.ulimits ?? []).forEach((u, i) => {
    const why = checkUlimit(u);
    if (why) throw invalid(f(`ulimits[${i}]`), `${u.name}=${u.soft}:${u.hard}`, why);
  });
  for (const [key, name] of THROTTLES) {
    (h[key] ?? []).forEach((d, i) => {
      if (!Number.isInteger(d.rate) || d.rate < 0) throw invalid(f(`${name}[${i}].rate`), d.rate, 'expected a rate >= 0');
      blockDeviceOf(d.path, f(`${name}[${i}].path`));
    });
  }
}

/** The cgroups port's share of these fields (unset ones absent). */
export function extraResourcesOf(h: HostConfig): Partial<CgroupResources> {
  const throttle = (list: ThrottleDevice[] | undefined, name: string) =>
    (list ?? []).map((d, i) => ({ ...blockDeviceOf(d.path, `host_config.${name}[${i}].path`), rate: d.rate }));
  const weights = (list: WeightDevice[] | undefined) =>
    (list ?? []).map((d, i) => ({ ...blockDeviceOf(d.path, `host_config.blkio_weight_device[${i}].path`), weight: d.weight }));
  const out: Partial<CgroupResources> = {};
  if (h.memoryReservation) out.memoryReservation = h.memoryReservation;
  if (h.memorySwappiness !== undefined && h.memorySwappiness >= 0) out.memorySwappiness = h.memorySwappiness;
  if (h.oomKillDisable) out.oomKillDisable = true;
  if (h.cpuPeriod) out.cpuPeriod = h.cpuPeriod;
  if (h.cpuQuota) out.cpuQuota = h.cpuQuota;
  if (h.cpusetMems) out.cpusetMems = h.cpusetMems;
  const blockIO: NonNullable<CgroupResources['blockIO']> = {
    ...(h.blkioWeight ? { weight: h.blkioWeight } : {}),
    weightDevice: weights(h.blkioWeightDevice),
    throttleReadBpsDevice: throttle(h.blkioDeviceReadBps, 'blkio_device_read_bps'),
    throttleWriteBpsDevice: throttle(h.blkioDeviceWriteBps, 'blkio_device_write_bps'),
    throttleReadIopsDevice: throttle(h.blkioDeviceReadIops, 'blkio_device_read_iops'),
    throttleWriteIopsDevice: throttle(h.blkioDeviceWriteIops, 'blkio_device_write_iops'),
  };
  if (blockIO.weight || Object.values(blockIO).some((v) => Array.isArray(v) && v.length)) out.blockIO = blockIO;
  return out;
}

/** Create's warnings for what is accepted and not applied. */
export function resourceWarnings(h: HostConfig): string[] {
  return h.kernelMemory ? ['Kernel memory limits are deprecated and not applied (--kernel-memory is accepted for compatibility and ignored, as by Docker 20.10+ on cgroup v2 and kernels 5.16+)'] : [];
}
