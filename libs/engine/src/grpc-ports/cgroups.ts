// CgroupsPort over berth.cgroups.v1.Cgroups. Docker's HostConfig units are
// converted to OCI linux.resources here (the service takes those): --cpus as
// a CFS quota over a 100 ms period, --memory-swap 0 = twice --memory.
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { isAlreadyExists } from '@berth/errors';
import type { BerthClient } from '@berth/kit';
import type { cgroupsV1, typesV1 } from '@berth/proto';
import type { CgroupResources, CgroupStats, CgroupsPort } from '../ports';
import { ignoreNotFound } from './shared';

export type CgroupsClient = BerthClient<cgroupsV1.CgroupsDefinition, cgroupsV1.CgroupsHandlers>;

const CFS_PERIOD_US = 100_000;

/** HostConfig limits -> OCI linux.resources; zero values are left unset (kernel default / unchanged). */
export function linuxResourcesOf(r: CgroupResources): typesV1.LinuxResources {
  const out: typesV1.LinuxResources = {};
  if (r.nanoCpus > 0 || r.cpuShares > 0 || r.cpusetCpus || r.cpuPeriod || r.cpuQuota || r.cpusetMems) {
    out.cpu = {
      ...(r.cpuShares > 0 ? { shares: r.cpuShares } : {}),
      ...(r.nanoCpus > 0 ? { quota: Math.round((r.nanoCpus / 1e9) * CFS_PERIOD_US), period: CFS_PERIOD_US } : {}),
      // --cpu-period / --cpu-quota (validation keeps them apart from --cpus).
      ...(r.cpuPeriod ? { period: r.cpuPeriod } : {}),
      ...(r.cpuQuota ? { quota: r.cpuQuota } : {}),
      cpus: r.cpusetCpus,
      mems: r.cpusetMems ?? '',
    };
  }
  if (r.memory > 0 || r.memoryReservation || r.memorySwappiness !== undefined || r.oomKillDisable) {
    // Docker: --memory-swap 0 (unset) means memory+swap = twice the memory.
    const swap = r.memorySwap === 0 ? r.memory * 2 : r.memorySwap;
    out.memory = {
      ...(r.memory > 0 ? { limit: r.memory, swap } : {}),
      ...(r.memoryReservation ? { reservation: r.memoryReservation } : {}),
      ...(r.memorySwappiness !== undefined ? { swappiness: r.memorySwappiness } : {}),
      ...(r.oomKillDisable ? { disableOomKiller: true } : {}),
    };
  }
  if (r.blockIO) out.blockIo = r.blockIO;
  if (r.pidsLimit > 0) out.pids = { limit: r.pidsLimit };
  if (r.devices) out.devices = r.devices.map((d) => ({ allow: d.allow, type: d.type, major: d.major, minor: d.minor, access: d.access }));
  return out;
}

/** Host CPU time over all CPUs, ns, from the first line of /proc/stat (USER_HZ = 100). */
async function systemCpuNs(): Promise<number> {
  const first = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
  const ticks = first.trim().split(/\s+/).slice(1, 8).reduce((a, t) => a + Number(t), 0);
  return ticks * 1e7;
}

export function grpcCgroupsPort(c: CgroupsClient): CgroupsPort {
  return {
    async create(id, resources, owner, nestedParent) {
      const linux = linuxResourcesOf(resources);
      try {
        return { path: (await c.Create({ id, resources: linux, nestedParent: nestedParent ?? '', ...(owner ? { name: owner.name, image: owner.image, labels: owner.labels } : {}) })).path };
      } catch (e) {
        // Idempotent per id: a retry after a lost reply finds the cgroup it made.
        if (!isAlreadyExists(e)) throw e;
        return { path: (await c.Update({ id, resources: linux })).path };
      }
    },
    async remove(id) {
      await ignoreNotFound(c.Delete({ id, force: true }));
    },
    async rename(id, name) {
      await ignoreNotFound(c.Update({ id, name }));
    },
    async update(id, resources) {
      await c.Update({ id, resources: linuxResourcesOf(resources) });
    },
    async readStats(id): Promise<CgroupStats> {
      const [s, sys] = await Promise.all([c.Stats({ id }), systemCpuNs()]);
      const blk = s.blkio.reduce((a, d) => ({ r: a.r + d.readBytes, w: a.w + d.writeBytes }), { r: 0, w: 0 });
      return {
        cpuUsageNs: s.cpu?.usageTotalNs ?? 0,
        systemCpuNs: sys,
        onlineCpus: cpus().length,
        memoryUsage: s.memory?.usage ?? 0,
        memoryLimit: s.memory?.limit || totalmem(),
        inactiveFile: s.memory?.inactiveFile ?? 0,
        blockRead: blk.r,
        blockWrite: blk.w,
        pids: s.pids?.current ?? s.processes,
      };
    },
    async pids(id) {
      return (await c.ListProcesses({ id })).pids;
    },
    async freeze(id) {
      await c.Freeze({ id });
    },
    async thaw(id) {
      await c.Thaw({ id });
    },
  };
}
