// v1 cpuset controller. The classic gotcha: a new cpuset cgroup starts with
// empty cpuset.cpus and cpuset.mems (unless cgroup.clone_children is set), and
// the kernel refuses to attach tasks to it (ENOSPC). So every level berth
// creates gets its parent's values copied in before anything else happens.
import { dirname } from 'node:path';
import type { LinuxCPU } from '../resources';
import { readCgroupFile, writeCgroupFile } from '../cgroupfs';

/** Copies cpus/mems down from the parent into `dir` when they are empty. */
export function inheritCpusetV1(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if (readCgroupFile(dir, file).trim() !== '') continue;
    const parentValue = readCgroupFile(dirname(dir), file).trim();
    writeCgroupFile(dir, file, parentValue);
  }
}

export function applyCpusetV1(dir: string, cpu: LinuxCPU): void {
  if (cpu.cpus) writeCgroupFile(dir, 'cpuset.cpus', cpu.cpus);
  if (cpu.mems) writeCgroupFile(dir, 'cpuset.mems', cpu.mems);
}
