// CgroupDriver: the one interface both cgroup hierarchies implement (youki's
// CgroupManager, runc's cgroups.Manager). Paths are relative to the cgroup
// root ("berth/abc123"); a driver maps them onto one directory per controller
// (v1) or one directory in the unified tree (v2). Drivers hold no per-cgroup
// state: CgroupsManager owns the registry, validation and the parent rule.
//
// Lifecycle: create -> apply -> addProcess ... (apply again on update) ->
// freeze/thaw any time -> signal until empty -> remove. Every method is safe to
// call again after a crash (create and remove are idempotent).
import type { LinuxResources } from './resources';
import type { CgroupLimits, CgroupStats } from './stats';

export type CgroupVersion = 'v1' | 'v2';

export interface OomWatch {
  /** Stops watching and frees the kernel objects (eventfd, inotify watch). */
  close(): void;
}

export interface CgroupDriver {
  readonly version: CgroupVersion;

  /**
   * Creates the cgroup directory (and missing ancestors) in every hierarchy.
   * v1: new cpuset levels get their parent's cpus/mems first (an empty cpuset
   * refuses tasks). v2: enables the needed controllers in cgroup.subtree_control
   * of each ancestor. Idempotent.
   */
  create(path: string): Promise<void>;

  /** Writes the limits that are set in `res` (absent fields are left alone). Kernel refusals surface with errno and file. */
  apply(path: string, res: LinuxResources): Promise<void>;

  /** Moves a process (all its threads) into the cgroup in every hierarchy. */
  addProcess(path: string, pid: number): Promise<void>;

  /** PIDs (thread-group ids) in the cgroup, sorted, deduplicated across hierarchies. */
  processes(path: string): Promise<number[]>;

  /** Starts freezing and resolves once the kernel reports the cgroup frozen; throws DeadlineExceeded (and thaws) after timeoutMs. */
  freeze(path: string, timeoutMs: number): Promise<void>;

  /** Thaws; resolves once the kernel reports it thawed. */
  thaw(path: string): Promise<void>;

  /** True when frozen (or freezing). */
  isFrozen(path: string): Promise<boolean>;

  /** Current counters. */
  stats(path: string): Promise<CgroupStats>;

  /** Limits in force, read back from the kernel. */
  limits(path: string): Promise<CgroupLimits>;

  /** Memory usage in bytes and pids.current, to refuse limits below what is in use. */
  usage(path: string): Promise<{ memory: number; pids: number }>;

  /** OOM kills the kernel has counted for this cgroup (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). */
  oomKillCount(path: string): Promise<number>;

  /** Calls onOom(newKills) whenever the kernel reports OOM kills in this cgroup, until closed. */
  watchOom(path: string, onOom: (newKills: number) => void): Promise<OomWatch>;

  /** The kernel's own "kill everything" (v2 cgroup.kill, 5.14+); false when not available. */
  killViaKernel(path: string): Promise<boolean>;

  /** rmdir in every hierarchy, deepest first; retries EBUSY briefly. Missing directories are fine. */
  remove(path: string): Promise<void>;

  /** True when the cgroup directory exists in any hierarchy. */
  exists(path: string): Promise<boolean>;

  /** Names of child cgroups of `path` (union over hierarchies). */
  children(path: string): Promise<string[]>;

  /** Absolute directories backing `path` (for docs, tests and the "id" label). */
  directories(path: string): string[];
}
