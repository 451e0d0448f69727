// Helper processes that outlive the service. CNI plugins, iptables-restore
// and ip are children of the service but do not die with it: if the service
// is killed mid-attach, a helper finishes its work on its own, possibly after
// the restarted service has already undone that attach, and its rules or
// links would then stay forever. Every helper is started with
// BERTH_NETWORKS_HELPER=1 in its environment; reconcile waits until no such
// process whose parent is not this process is left before it undoes anything.
import { readFile, readdir } from 'node:fs/promises';

export const HELPER_ENV_KEY = 'BERTH_NETWORKS_HELPER';

/** Environment for a helper: `base` plus the marker. */
export function helperEnv(base: NodeJS.ProcessEnv | Record<string, string> = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  env[HELPER_ENV_KEY] = '1';
  return env;
}

/** Pids of marked helpers that are not children of this process. */
export async function orphanHelpers(): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'latin1');
      // ppid is the 2nd field after the parenthesised comm (which may hold spaces).
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) continue;
      const env = await readFile(`/proc/${name}/environ`, 'latin1');
      if (env.includes(`\0${HELPER_ENV_KEY}=1\0`) || env.startsWith(`${HELPER_ENV_KEY}=1\0`)) out.push(Number(name));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** Waits until no orphan helper runs or timeoutMs passes; returns those still running. */
export async function waitForOrphanHelpers(timeoutMs = 30_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await orphanHelpers();
    if (pids.length === 0 || Date.now() > deadline) return pids;
    await new Promise((r) => setTimeout(r, 20));
  }
}
