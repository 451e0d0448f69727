// v2 cpuset controller. Unlike v1, an empty cpuset.cpus/mems means "inherit
// the parent's effective set", so nothing has to be copied down.
import type { LinuxCPU } from '../resources';
import { writeCgroupFile } from '../cgroupfs';

export function applyCpusetV2(dir: string, cpu: LinuxCPU): void {
  if (cpu.cpus) writeCgroupFile(dir, 'cpuset.cpus', cpu.cpus);
  if (cpu.mems) writeCgroupFile(dir, 'cpuset.mems', cpu.mems);
}
