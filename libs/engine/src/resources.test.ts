// The cgroup limits beyond the basic five: the engine's checks (each names
// the request field), the mapping to the cgroups port with host block
// devices resolved to major:minor, and OCI linux.resources as the cgroups
// service receives them.
import { describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { isInvalidArgument } from '@berth/errors';
import { linuxResourcesOf } from './grpc-ports/cgroups';
import { deviceNumbers } from './devices';
import { checkExtraResources, extraResourcesOf, resourceWarnings } from './resources';
import { resourcesOf } from './run-plan';
import { defaultHostConfig, type HostConfig } from './types';

const host = (o: Partial<HostConfig>): HostConfig => ({ ...defaultHostConfig(), ...o });
function fieldOf(h: HostConfig): string | undefined {
  try {
    checkExtraResources(h);
  } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    return (e as { field?: string }).field;
  }
  return undefined;
}
/** /dev/loop0 or the first block device this host has. */
const BLOCK = ['/dev/loop0', '/dev/vda', '/dev/sda'].find((p) => { try { return statSync(p).isBlockDevice(); } catch { return false; } })!;

describe('extra cgroup limits', () => {
  it('refuses bad values naming the field', () => {
    expect(fieldOf(host({ memoryReservation: -1 }))).toBe('host_config.memory_reservation');
    expect(fieldOf(host({ memory: 8 << 20, memoryReservation: 16 << 20 }))).toBe('host_config.memory_reservation');
    expect(fieldOf(host({ memorySwappiness: 101 }))).toBe('host_config.memory_swappiness');
    expect(fieldOf(host({ cpuPeriod: 999 }))).toBe('host_config.cpu_period');
    expect(fieldOf(host({ cpuQuota: 10 }))).toBe('host_config.cpu_quota');
    expect(fieldOf(host({ nanoCpus: 1e9, cpuQuota: 50000 }))).toBe('host_config.nano_cpus');
    expect(fieldOf(host({ cpusetMems: '1-0' }))).toBe('host_config.cpuset_mems');
    expect(fieldOf(host({ blkioWeight: 5 }))).toBe('host_config.blkio_weight');
    expect(fieldOf(host({ blkioDeviceReadBps: [{ path: '/dev/null', rate: 1 }] }))).toBe('host_config.blkio_device_read_bps[0].path');
    expect(fieldOf(host({ blkioDeviceWriteIops: [{ path: '/nonexistent-berth', rate: 1 }] }))).toBe('host_config.blkio_device_write_iops[0].path');
    expect(fieldOf(host({ blkioWeightDevice: [{ path: BLOCK, weight: 5 }] }))).toBe('host_config.blkio_weight_device[0].weight');
    expect(fieldOf(host({ memory: 64 << 20, memoryReservation: 32 << 20, memorySwappiness: 0, cpuPeriod: 50000, cpuQuota: -1, cpusetMems: '0' }))).toBeUndefined();
  });

  it('maps onto the cgroups port with devices by major:minor, and onto OCI linux.resources', () => {
    const { major, minor } = deviceNumbers(statSync(BLOCK).rdev);
    const h = host({
      memory: 64 << 20, memoryReservation: 32 << 20, memorySwappiness: 5, oomKillDisable: true, cpuPeriod: 50000, cpuQuota: 25000, cpusetMems: '0',
      blkioWeight: 300, blkioDeviceReadBps: [{ path: BLOCK, rate: 1 << 20 }], blkioDeviceWriteIops: [{ path: BLOCK, rate: 100 }],
    });
    const r = resourcesOf(h);
    expect(r.blockIO?.throttleReadBpsDevice).toEqual([{ major, minor, rate: 1 << 20 }]);
    const oci = linuxResourcesOf(r);
    expect(oci.memory).toEqual({ limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, swappiness: 5, disableOomKiller: true });
    expect(oci.cpu).toMatchObject({ period: 50000, quota: 25000, mems: '0' });
    expect(oci.blockIo).toMatchObject({ weight: 300, throttleWriteIopsDevice: [{ major, minor, rate: 100 }] });
    // Unset stays unset: no memory or cpu section for a container without limits.
    expect(linuxResourcesOf(resourcesOf(host({})))).toEqual({});
    expect(extraResourcesOf(host({ memorySwappiness: -1 }))).toEqual({});
  });

  it('--kernel-memory is a warning, not a limit', () => {
    expect(resourceWarnings(host({ kernelMemory: 64 << 20 }))[0]).toContain('not applied');
    expect(linuxResourcesOf(resourcesOf(host({ kernelMemory: 64 << 20 })))).toEqual({});
  });
});
