// LinuxResources between the OCI spelling used by this lib (blockIO,
// disableOOMKiller, throttleReadIOPSDevice) and the camelCase objects
// @grpc/proto-loader makes from berth.types.v1.LinuxResources (blockIo,
// disableOomKiller, throttleReadIopsDevice), for the gRPC handler. 64-bit
// fields may arrive as numbers, strings or Long objects depending on the
// loader's `longs` option; all become numbers (byte counts fit in 2^53).
import { InvalidArgumentError } from '@berth/errors';
import type { LinuxDeviceCgroup, LinuxResources, LinuxThrottleDevice, LinuxWeightDevice } from './resources';
import type { CgroupInfo, ContainerStats } from './manager';

type Wire = Record<string, unknown> | null | undefined;

function num(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'object' && 'toString' in (v as object) ? Number(String(v)) : Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${field}: ${String(v)} is not a number`, { field });
  return n;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}

function devices(v: unknown, field: string): LinuxThrottleDevice[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return v.map((d: Record<string, unknown>, i) => ({
    major: num(d['major'], `${field}[${i}].major`) ?? 0,
    minor: num(d['minor'], `${field}[${i}].minor`) ?? 0,
    rate: num(d['rate'], `${field}[${i}].rate`) ?? 0,
  }));
}

function weights(v: unknown): LinuxWeightDevice[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return v.map((d: Record<string, unknown>, i) => ({
    major: num(d['major'], `blockIO.weightDevice[${i}].major`) ?? 0,
    minor: num(d['minor'], `blockIO.weightDevice[${i}].minor`) ?? 0,
    weight: num(d['weight'], `blockIO.weightDevice[${i}].weight`) ?? 0,
  }));
}

function compact<T extends object>(o: T): T | undefined {
  const entries = Object.entries(o).filter(([, v]) => v !== undefined && v !== '');
  return entries.length ? (Object.fromEntries(entries) as T) : undefined;
}

/** proto-loader object (berth.types.v1.LinuxResources) -> LinuxResources. Absent messages stay absent. */
export function resourcesFromWire(w: Wire): LinuxResources {
  const out: LinuxResources = {};
  const cpu = obj(w?.['cpu']);
  if (cpu) {
    const c = compact({
      shares: num(cpu['shares'], 'cpu.shares'),
      quota: num(cpu['quota'], 'cpu.quota'),
      period: num(cpu['period'], 'cpu.period'),
      cpus: (cpu['cpus'] as string | undefined) || undefined,
      mems: (cpu['mems'] as string | undefined) || undefined,
    });
    if (c) out.cpu = c;
  }
  const mem = obj(w?.['memory']);
  if (mem) {
    const m = compact({
      limit: num(mem['limit'], 'memory.limit'),
      reservation: num(mem['reservation'], 'memory.reservation'),
      swap: num(mem['swap'], 'memory.swap'),
      swappiness: num(mem['swappiness'], 'memory.swappiness'),
      disableOOMKiller: mem['disableOomKiller'] === undefined || mem['disableOomKiller'] === null ? undefined : Boolean(mem['disableOomKiller']),
    });
    if (m) out.memory = m;
  }
  const pids = obj(w?.['pids']);
  if (pids) out.pids = { limit: num(pids['limit'], 'pids.limit') ?? 0 };
  const bio = obj(w?.['blockIo']);
  if (bio) {
    const b = compact({
      weight: num(bio['weight'], 'blockIO.weight'),
      weightDevice: weights(bio['weightDevice']),
      throttleReadBpsDevice: devices(bio['throttleReadBpsDevice'], 'blockIO.throttleReadBpsDevice'),
      throttleWriteBpsDevice: devices(bio['throttleWriteBpsDevice'], 'blockIO.throttleWriteBpsDevice'),
      throttleReadIOPSDevice: devices(bio['throttleReadIopsDevice'], 'blockIO.throttleReadIOPSDevice'),
      throttleWriteIOPSDevice: devices(bio['throttleWriteIopsDevice'], 'blockIO.throttleWriteIOPSDevice'),
    });
    if (b) out.blockIO = b;
  }
  const devs = w?.['devices'];
  if (Array.isArray(devs) && devs.length > 0) {
    out.devices = devs.map((d: Record<string, unknown>, i): LinuxDeviceCgroup => {
      const major = num(d['major'], `devices[${i}].major`);
      const minor = num(d['minor'], `devices[${i}].minor`);
      return {
        allow: Boolean(d['allow']),
        type: (d['type'] as string | undefined) || 'a',
        ...(major === undefined ? {} : { major }),
        ...(minor === undefined ? {} : { minor }),
        access: (d['access'] as string | undefined) || 'rwm',
      };
    });
  }
  return out;
}

/** LinuxResources -> the object proto-loader serializes as berth.types.v1.LinuxResources. */
export function resourcesToWire(r: LinuxResources): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.cpu) out['cpu'] = { ...r.cpu };
  if (r.memory) {
    const { disableOOMKiller, ...rest } = r.memory;
    out['memory'] = { ...rest, ...(disableOOMKiller === undefined ? {} : { disableOomKiller: disableOOMKiller }) };
  }
  if (r.pids) out['pids'] = { ...r.pids };
  if (r.blockIO) {
    const { throttleReadIOPSDevice, throttleWriteIOPSDevice, ...rest } = r.blockIO;
    out['blockIo'] = {
      ...rest,
      ...(throttleReadIOPSDevice ? { throttleReadIopsDevice: throttleReadIOPSDevice } : {}),
      ...(throttleWriteIOPSDevice ? { throttleWriteIopsDevice: throttleWriteIOPSDevice } : {}),
    };
  }
  if (r.devices) out['devices'] = r.devices.map((d) => ({ ...d }));
  return out;
}

/** CgroupInfo -> berth.cgroups.v1.Cgroup (proto-loader object). */
export function cgroupToWire(info: CgroupInfo): Record<string, unknown> {
  return {
    id: info.id,
    path: info.path,
    parent: info.parent,
    name: info.name,
    image: info.image,
    labels: { ...info.labels },
    resources: resourcesToWire(info.resources),
    createdAtMs: info.createdAt,
    oomKills: info.oomKills,
  };
}

/** ContainerStats -> berth.cgroups.v1.CgroupStats (proto-loader object). */
export function statsToWire(s: ContainerStats): Record<string, unknown> {
  return {
    id: s.id,
    cpu: { ...s.cpu },
    memory: { ...s.memory },
    pids: { ...s.pids },
    blkio: s.blkio.map((d) => ({ ...d })),
    processes: s.processes,
    threads: s.threads,
    limits: { ...s.limits },
    oomKills: s.oomKills,
    timestampMs: s.timestamp,
  };
}
