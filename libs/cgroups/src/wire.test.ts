// The proto contract and the local API agree: a LinuxResources survives
// encoding as berth.cgroups.v1.LinuxResources and decoding with the options
// the service kit is likely to use, and every RPC in the proto has a
// CgroupsManager method.
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { resourcesFromWire, resourcesToWire, CgroupsManager, type LinuxResources } from './index';

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
