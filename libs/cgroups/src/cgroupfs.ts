// Reading and writing cgroup control files. Writes report the kernel's refusal
// as it came (errno name plus the file and value written), because the kernel
// is the authority on what a hierarchy accepts: EINVAL for a cpuset outside the
// parent's, EBUSY for a memory limit it cannot reclaim down to, and so on.
// Synchronous on purpose: these are tiny pseudo-files served from memory, and
// a thread-pool round trip per file costs more than the read.
import { readFileSync, writeFileSync, existsSync, readdirSync, rmdirSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fromNodeError, fromErrno } from '@berth/errors';

/**
 * What the drivers do to a cgroup filesystem, as seen by observers: writes
 * and mkdirs after they succeed, rmdirs just before they are attempted. For
 * tracing, and for tests that run a driver against a plain directory tree and
 * play the kernel's part (populating new cgroups with control files, merging
 * io.max lines) in an observer.
 */
export type CgroupFsEvent = { op: 'write'; path: string; value: string } | { op: 'mkdir'; path: string } | { op: 'rmdir'; path: string };
export type CgroupFsObserver = (event: CgroupFsEvent) => void;
const observers = new Set<CgroupFsObserver>();

/** Registers an observer; returns the function that removes it. */
export function observeCgroupFs(fn: CgroupFsObserver): () => void {
  observers.add(fn);
  return () => observers.delete(fn);
}

function notify(event: CgroupFsEvent): void {
  for (const fn of observers) fn(event);
}

export function writeCgroupFile(dir: string, file: string, value: string): void {
  const p = join(dir, file);
  try {
    writeFileSync(p, value);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code && /^E[A-Z0-9]+$/.test(code)) {
      throw fromErrno(code, `the kernel refused writing "${value}" to ${p}`, explain(code, file), e);
    }
    throw fromNodeError(e, `write "${value}" to ${p}`);
  }
  notify({ op: 'write', path: p, value });
}

/**
 * writeCgroupFile off the event loop, for writes that can block in the
 * kernel: moving a task (cgroup.procs) takes cgroup_threadgroup_rwsem for
 * writing, whose first taker after a quiet spell waits for an RCU grace
 * period (~10 ms measured on cgroup v1), and the services share one Node
 * process in the default layout.
 */
export async function writeCgroupFileAsync(dir: string, file: string, value: string): Promise<void> {
  const p = join(dir, file);
  try {
    await writeFile(p, value);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code && /^E[A-Z0-9]+$/.test(code)) {
      throw fromErrno(code, `the kernel refused writing "${value}" to ${p}`, explain(code, file), e);
    }
    throw fromNodeError(e, `write "${value}" to ${p}`);
  }
  notify({ op: 'write', path: p, value });
}

/**
 * Moves `pid` into the cgroup at `dir` (cgroup.procs). EINVAL can mean the
 * task is still being forked (TASK_NEW): retried 5 times 30 ms apart, as runc
 * does; any other error, or EINVAL after that, is thrown.
 */
export async function joinCgroup(dir: string, pid: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await writeCgroupFileAsync(dir, 'cgroup.procs', String(pid));
      return;
    } catch (e) {
      if ((e as { errno?: string }).errno !== 'EINVAL' || attempt >= 5) throw e;
      await sleep(30);
    }
  }
}

function explain(errno: string, file: string): string | undefined {
  if (errno === 'EBUSY' && file.startsWith('memory.')) return 'usage cannot be reclaimed below the new limit';
  if ((errno === 'EINVAL' || errno === 'ERANGE') && file.startsWith('cpuset.')) return "not a subset of the parent cgroup's cpuset";
  if (errno === 'EINVAL' && file.startsWith('cpu.cfs')) return 'quota/period out of range or above the parent cgroup';
  if (errno === 'ENOENT') return 'the controller or file does not exist on this kernel';
  return undefined;
}

export function readCgroupFile(dir: string, file: string): string {
  const p = join(dir, file);
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw fromNodeError(e, `read ${p}`);
  }
}

/** Reads a file when it exists; undefined when the kernel does not provide it. */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP') return undefined;
    throw fromNodeError(e, `read ${join(dir, file)}`);
  }
}

/** A single number; "max" (v2) and v1's huge "unlimited" values become Infinity. */
export function parseNumber(text: string): number {
  const t = text.trim();
  if (t === 'max') return Infinity;
  const n = Number(t);
  return n >= 2 ** 62 ? Infinity : n;
}

export function readNumber(dir: string, file: string): number {
  return parseNumber(readCgroupFile(dir, file));
}

export function readOptionalNumber(dir: string, file: string): number | undefined {
  const t = readOptional(dir, file);
  return t === undefined ? undefined : parseNumber(t);
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, cgroup.events) into a map. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

export function readFlatKeyed(dir: string, file: string): Map<string, number> {
  const t = readOptional(dir, file);
  return t === undefined ? new Map() : parseFlatKeyed(t);
}

/** cgroup.procs / tasks: one id per line. */
export function readPids(dir: string, file = 'cgroup.procs'): number[] {
  const t = readOptional(dir, file);
  if (t === undefined) return [];
  return t.split('\n').filter(Boolean).map(Number);
}

/** Creates `dir` and missing ancestors one level at a time (each level is a new cgroup). */
export function mkdirp(dir: string): boolean {
  if (existsSync(dir)) return false;
  mkdirp(dirname(dir));
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') return false;
    throw fromNodeError(e, `create cgroup ${dir}`);
  }
  notify({ op: 'mkdir', path: dir });
  return true;
}

export function childDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return [];
    throw fromNodeError(e, `list ${dir}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * rmdir a cgroup directory. A cgroup whose last task just died can still be
 * busy for a moment (the kernel finishes uncharging), so EBUSY is retried for
 * up to ~2 s before the error surfaces. Missing directories are not an error.
 */
export async function removeCgroupDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (attempt === 0) notify({ op: 'rmdir', path: dir });
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') return;
      if (code === 'EBUSY' && attempt < 40) {
        await sleep(50);
        continue;
      }
      throw fromNodeError(e, `remove cgroup ${dir}`);
    }
  }
}

/** Deepest-first removal of a cgroup and any child cgroups under it. */
export async function removeCgroupTree(dir: string): Promise<void> {
  for (const child of childDirs(dir)) await removeCgroupTree(join(dir, child));
  await removeCgroupDir(dir);
}

export { existsSync, sleep };
