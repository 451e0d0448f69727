// Listing a container's processes (Top / ListPids) by walking /proc: every
// process whose pid namespace is the init's. Independent of the cgroup
// layout, and it finds processes that moved cgroups; it cannot see processes
// of a container that shares the host's pid namespace (berth always unshares).
import { readdirSync, statSync } from 'node:fs';

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
