// @berth/cgroups: the cgroups service's logic. CgroupsManager is the local API
// (one method per RPC of berth.cgroups.v1.Cgroups); CgroupDriver is the
// interface the v1 and v2 hierarchies implement; CgroupMetricsCollector
// exports cAdvisor-named Prometheus series. See docs/design/cgroups.md.
export { CgroupsManager, defaultDriver } from './manager';
export type { CgroupsManagerOptions, CreateCgroupOptions, CgroupInfo, ContainerStats, ReconcileResult } from './manager';
export type { CgroupDriver, CgroupVersion, OomWatch } from './driver';
export { V1Driver, type V1DriverOptions } from './v1/driver';
export { OomEventLoop, oomEventLoop } from './v1/oom-notifier';
export { V2Driver, V2_CONTROLLERS, type V2DriverOptions } from './v2/driver';
export { detectCgroupLayout, layoutFromMountInfo, parseMountInfo, V1_CONTROLLERS, type CgroupLayout, type V1Controller } from './layout';
export {
  validateResources,
  mergeResources,
  formatBytes,
  MIN_MEMORY_LIMIT,
  type LinuxResources,
  type LinuxCPU,
  type LinuxMemory,
  type LinuxPids,
  type LinuxBlockIO,
  type LinuxThrottleDevice,
  type LinuxWeightDevice,
  type LinuxDeviceCgroup,
  validateDeviceRules,
} from './resources';
export { deviceProgram, emulateDeviceRules, disassemble as disassembleDeviceProgram, DEVICE_PROGRAM_LICENSE } from './v2/devices';
export { parseBytes, parseCpus, cpusToQuota, DEFAULT_CPU_PERIOD } from './units';
export { cpuSharesToWeight, blkioWeightToIoWeight, memorySwapToV2 } from './convert';
export { cpuWeightToShares } from './v2/cpu';
export type { CgroupStats, CgroupLimits, CpuStats, MemoryStats, PidsStats, BlkioDeviceStats } from './stats';
export { CgroupMetricsCollector, SERIES as CGROUP_METRIC_SERIES, sanitizeLabelName } from './metrics';
export { CgroupStateStore, type CgroupRecord } from './state';
export { observeCgroupFs, type CgroupFsEvent, type CgroupFsObserver } from './cgroupfs';
export { resourcesFromWire, resourcesToWire, cgroupToWire, statsToWire } from './wire';
export { cgroupsModule } from './service';
export { removeCgroupParent } from './remove-parent';
