// Listing a container's processes (Top / ListPids) by walking /proc: every
// process whose pid namespace is the init's. Independent of the cgroup
// layout, and it finds processes that moved cgroups; it cannot see processes
// of a container that shares the host's pid namespace (berth always unshares).
import { readdirSync, readFileSync, statSync } from 'node:fs';

/** Host pids of the processes in the pid namespace of pid (sorted; [] once it is gone). */
export function pidsInNamespaceOf(pid: number): number[] {
  let ns;
  try {
    ns = statSync(`/proc/${pid}/ns/pid`);
  } catch {
    return [];
  }
  const self = statSync('/proc/self/ns/pid');
  if (ns.ino === self.ino && ns.dev === self.dev) return [pid]; // host namespace: do not list the host
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const n = Number(name);
    if (!Number.isInteger(n) || n <= 0) continue;
    try {
      const s = statSync(`/proc/${n}/ns/pid`);
      if (s.ino === ns.ino && s.dev === ns.dev) out.push(n);
    } catch {
      // exited while we walked
    }
  }
  return out.sort((a, b) => a - b);
}

/** One process as `ps` shows it (the ListPids answer). */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Effective uid on the host. */
  uid: number;
  /** Command line, space-joined (`[comm]` for kernel-less empty cmdlines, e.g. zombies). */
  cmd: string;
  /** State letter from /proc/<pid>/stat (R, S, Z...). */
  state: string;
}

/** Reads /proc for pid; null when it exited meanwhile. */
export function processInfo(pid: number): ProcessInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? -1);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0').join(' ');
    return { pid, ppid: Number(f[1]), uid, cmd: cmdline || `[${comm}]`, state: f[0] ?? '?' };
  } catch {
    return null;
  }
}
