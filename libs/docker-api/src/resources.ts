// HostConfig's cgroup limits beyond Memory/NanoCpus/CpuShares/CpusetCpus/
// PidsLimit, from Docker's create body into container-config's fields (the
// engine checks them: ranges, block devices on the host). CpuQuota with
// NanoCpus unset is already turned into NanoCpus by create.ts (compose's
// cpus); CpuPeriod and CpuQuota pass as they are otherwise.
import type { HostConfig, ThrottleDevice, WeightDevice } from '@berth/container-config';

type Json = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter((x): x is Json => !!x && typeof x === 'object') : []);
const throttles = (v: unknown): ThrottleDevice[] => list(v).map((d) => ({ path: String(d['Path'] ?? ''), rate: num(d['Rate']) }));

export function extraResourcesOf(h: Json, quotaTaken: boolean): Partial<HostConfig> {
  const out: Partial<HostConfig> = {};
  if (num(h['MemoryReservation'])) out.memoryReservation = num(h['MemoryReservation']);
  // Docker's MemorySwappiness is a pointer: null (or -1) = the kernel's.
  if (typeof h['MemorySwappiness'] === 'number' && h['MemorySwappiness'] !== -1) out.memorySwappiness = h['MemorySwappiness'];
  if (num(h['KernelMemory'])) out.kernelMemory = num(h['KernelMemory']);
  if (h['OomKillDisable'] === true) out.oomKillDisable = true;
  if (!quotaTaken) {
    if (num(h['CpuPeriod'])) out.cpuPeriod = num(h['CpuPeriod']);
    if (num(h['CpuQuota'])) out.cpuQuota = num(h['CpuQuota']);
  }
  if (typeof h['CpusetMems'] === 'string' && h['CpusetMems']) out.cpusetMems = h['CpusetMems'];
  if (num(h['BlkioWeight'])) out.blkioWeight = num(h['BlkioWeight']);
  const weights: WeightDevice[] = list(h['BlkioWeightDevice']).map((d) => ({ path: String(d['Path'] ?? ''), weight: num(d['Weight']) }));
  if (weights.length) out.blkioWeightDevice = weights;
  const fields = [['BlkioDeviceReadBps', 'blkioDeviceReadBps'], ['BlkioDeviceWriteBps', 'blkioDeviceWriteBps'],
    ['BlkioDeviceReadIOps', 'blkioDeviceReadIops'], ['BlkioDeviceWriteIOps', 'blkioDeviceWriteIops']] as const;
  for (const [docker, berth] of fields) {
    const t = throttles(h[docker]);
    if (t.length) out[berth] = t;
  }
  return out;
}
