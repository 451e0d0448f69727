// The proto contract and the local API agree: a LinuxResources survives
// encoding as berth.types.v1.LinuxResources and decoding with the options
// the service kit is likely to use, and every RPC in the proto has a
// CgroupsManager method.
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { resourcesFromWire, resourcesToWire, cgroupToWire, statsToWire, CgroupsManager, type LinuxResources } from './index';

const PROTOS = join(__dirname, '../../../protos');

describe('berth.cgroups.v1 wire mapping', () => {
  const full: LinuxResources = {
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
    memory: { limit: 64 * 2 ** 20, reservation: 32 * 2 ** 20, swap: -1, swappiness: 0, disableOOMKiller: false },
    pids: { limit: 20 },
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 100 }],
      throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }],
    },
    devices: [
      { allow: false, type: 'a', access: 'rwm' },
      { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
      { allow: true, type: 'c', major: 136, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
    ],
  };

  for (const longs of [String, Number]) {
    it(`round-trips every field through protobuf (longs as ${longs.name})`, () => {
      const def = loadSync('berth/cgroups/v1/cgroups.proto', { includeDirs: [PROTOS], longs, enums: String, defaults: false, oneofs: true });
      const create = (def['berth.cgroups.v1.Cgroups'] as Record<string, { requestSerialize: (o: unknown) => Buffer; requestDeserialize: (b: Buffer) => Record<string, unknown> }>)['Create']!;
      const bytes = create.requestSerialize({ id: 'c1', resources: resourcesToWire(full) });
      const decoded = create.requestDeserialize(bytes);
      expect(resourcesFromWire(decoded['resources'] as Record<string, unknown>)).toEqual(full);
    });
  }

  it('Stats and Cgroup responses encode every field the local API returns', () => {
    const def = loadSync('berth/cgroups/v1/cgroups.proto', { includeDirs: [PROTOS], longs: Number, defaults: true });
    const svc = def['berth.cgroups.v1.Cgroups'] as Record<string, { responseSerialize: (o: unknown) => Buffer; responseDeserialize: (b: Buffer) => Record<string, unknown> }>;
    const stats = {
      id: 'c1',
      cpu: { usageTotalNs: 3e9, usageUserNs: 2e9, usageSystemNs: 1e9, periods: 30, throttledPeriods: 12, throttledTimeNs: 6e8 },
      memory: { usage: 100, maxUsage: 200, failcnt: 7, limit: 300, rss: 50, cache: 40, swap: 1, mappedFile: 2, inactiveFile: 30, workingSet: 70 },
      pids: { current: 4, limit: 50 },
      blkio: [{ major: 254, minor: 0, readBytes: 4096, writeBytes: 8192, reads: 1, writes: 2 }],
      processes: 2,
      threads: 4,
      limits: { memoryLimit: 300, memoryReservation: 0, cpuQuota: -1, cpuPeriod: 100000, cpuShares: 1024 },
      oomKills: 3,
      timestamp: 1764400000000,
    };
    const decoded = svc['Stats']!.responseDeserialize(svc['Stats']!.responseSerialize(statsToWire(stats)));
    expect(decoded).toEqual({ ...statsToWire(stats) });
    const info = { id: 'c1', path: 'berth/c1', parent: 'berth', name: 'web', image: 'nginx', labels: { a: 'b' }, resources: { pids: { limit: 5 } }, createdAt: 1764400000000, oomKills: 1 };
    const c = svc['Get']!.responseDeserialize(svc['Get']!.responseSerialize(cgroupToWire(info)));
    expect(c['createdAtMs']).toBe(1764400000000);
    expect(c['labels']).toEqual({ a: 'b' });
    expect(resourcesFromWire(c['resources'] as Record<string, unknown>)).toEqual({ pids: { limit: 5 } });
  });

  it('absent messages stay absent (an Update that only sets pids touches nothing else)', () => {
    expect(resourcesFromWire({ pids: { limit: 5 } })).toEqual({ pids: { limit: 5 } });
    expect(resourcesFromWire(undefined)).toEqual({});
  });

  it('every RPC maps onto a CgroupsManager method', () => {
    const def = loadSync('berth/cgroups/v1/cgroups.proto', { includeDirs: [PROTOS] });
    const rpcs = Object.keys(def['berth.cgroups.v1.Cgroups'] as object);
    const method = (rpc: string) => rpc[0]!.toLowerCase() + rpc.slice(1);
    for (const rpc of rpcs) expect(typeof (CgroupsManager.prototype as unknown as Record<string, unknown>)[method(rpc)], rpc).toBe('function');
    expect(rpcs.sort()).toEqual(['AddProcess', 'Create', 'Delete', 'Freeze', 'Get', 'KillAll', 'List', 'ListProcesses', 'Reconcile', 'Stats', 'Thaw', 'Update']);
  });
});
