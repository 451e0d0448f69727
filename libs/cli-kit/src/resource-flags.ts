// run/create's cgroup flags beyond --memory/--cpus/--cpu-shares/
// --cpuset-cpus/--pids-limit (container-config resources.ts), parsed as
// Docker's CLI parses them. The engine checks what needs the host (block
// devices exist, memory nodes) and the fields against each other again.
import {
  checkBlkioWeight, checkCpuPeriod, checkCpuQuota, checkCpuset, checkSwappiness, parseThrottleDevice, parseWeightDevice,
  type HostConfig, type ThrottleDevice,
} from '@berth/container-config';
import type { FlagDef, ParsedCommand } from './command';
import { invalidFlagValue } from './command';
import { RESOURCE_FLAGS } from './run-flags';
import { parseBytes } from './units';

export { RESOURCE_FLAGS };

const flagOf = (name: string): FlagDef => RESOURCE_FLAGS.find((f) => f.name === name)!;
const iops = (v: string): number | undefined => (/^\d{1,15}$/.test(v) ? Number(v) : undefined);
const bytes = (v: string): number | undefined => parseBytes(v) ?? undefined;

/** The HostConfig fields these flags set (only those given). */
export function resourcesFromFlags(p: ParsedCommand): Partial<HostConfig> {
  const v = p.flags;
  const has = (n: string) => p.changed.has(n);
  const out: Partial<HostConfig> = {};
  const size = (name: string): number => {
    const text = v[name] as string;
    const n = parseBytes(text);
    if (n === null) throw invalidFlagValue(flagOf(name), text, 'expected a number with an optional unit b, k, m, g (64m, 1g, 512k)');
    return n;
  };
  const int = (name: string, check: (n: number) => string | undefined): number => {
    const n = v[name] as number;
    const why = check(n);
    if (why) throw invalidFlagValue(flagOf(name), String(n), why);
    return n;
  };
  if (has('memory-reservation')) out.memoryReservation = size('memory-reservation');
  if (has('shm-size')) {
    out.shmSize = size('shm-size');
    if (out.shmSize <= 0) throw invalidFlagValue(flagOf('shm-size'), v['shm-size'] as string, 'the size of /dev/shm must be greater than 0');
  }
  if (has('kernel-memory')) out.kernelMemory = size('kernel-memory');
  if (has('memory-swappiness')) out.memorySwappiness = int('memory-swappiness', checkSwappiness);
  if (v['oom-kill-disable'] === true) out.oomKillDisable = true;
  if (has('cpu-period')) out.cpuPeriod = int('cpu-period', checkCpuPeriod);
  if (has('cpu-quota')) out.cpuQuota = int('cpu-quota', checkCpuQuota);
  if (has('cpuset-mems')) {
    const mems = v['cpuset-mems'] as string;
    const why = checkCpuset(mems);
    if (why) throw invalidFlagValue(flagOf('cpuset-mems'), mems, why.replace('CPU', 'memory node'));
    out.cpusetMems = mems;
  }
  if (has('blkio-weight')) out.blkioWeight = int('blkio-weight', checkBlkioWeight);
  const weights = (v['blkio-weight-device'] as string[]).map((d) => {
    const w = parseWeightDevice(d);
    if ('error' in w) throw invalidFlagValue(flagOf('blkio-weight-device'), d, w.error);
    return w;
  });
  if (weights.length) out.blkioWeightDevice = weights;
  const throttles = (name: string, rate: (v: string) => number | undefined): ThrottleDevice[] => (v[name] as string[]).map((d) => {
    const t = parseThrottleDevice(d, rate);
    if ('error' in t) throw invalidFlagValue(flagOf(name), d, t.error);
    return t;
  });
  const readBps = throttles('device-read-bps', bytes);
  const writeBps = throttles('device-write-bps', bytes);
  const readIops = throttles('device-read-iops', iops);
  const writeIops = throttles('device-write-iops', iops);
  if (readBps.length) out.blkioDeviceReadBps = readBps;
  if (writeBps.length) out.blkioDeviceWriteBps = writeBps;
  if (readIops.length) out.blkioDeviceReadIops = readIops;
  if (writeIops.length) out.blkioDeviceWriteIops = writeIops;
  return out;
}
