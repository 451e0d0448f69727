// Is that process still what we think it is? /proc checks for the monitor
// and the container's init, used when no pidfd or socket can answer: after a
// restart, or after the monitor was killed.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FailedPreconditionError } from '@berth/errors';
import { readOptional } from './state-files';

/** /proc/<pid>/stat fields after the comm (which may hold spaces and parens). */
export function statFields(pid: number): string[] | null {
  const text = readOptional(`/proc/${pid}/stat`);
  if (text === null) return null;
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

export function parentPid(pid: number): number | null {
  const f = statFields(pid);
  return f ? Number(f[1]) : null;
}

/** Whether pid is pid 1 of the pid namespace behind the handle at nsHandle. */
export function isInitOfNamespace(pid: number, nsHandle: string | undefined): boolean {
  if (!nsHandle) return false;
  try {
    const ns = statSync(`/proc/${pid}/ns/pid`);
    const handle = statSync(nsHandle);
    const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/);
    return ns.ino === handle.ino && ns.dev === handle.dev && nspid?.at(-1) === '1';
  } catch {
    return false;
  }
}

/** Polls (20 ms, at most 5 s) until pid is gone or a zombie: for a process that is not our child. */
export async function waitProcessGone(pid: number, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const state = statFields(pid)?.[0];
    if (state === undefined || state === 'Z' || state === 'X') return;
    if (Date.now() > deadline) throw new FailedPreconditionError(`${what} (pid ${pid}) did not die 5 s after SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The monitor's pid if it is alive (not a zombie, and really berth-monitor), else null. */
export function liveMonitorPid(dir: string): number | null {
  const text = readOptional(join(dir, 'monitor.pid'));
  if (text === null) return null;
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const f = statFields(pid);
  if (!f || f[0] === 'Z' || f[0] === 'X') return null;
  if (readOptional(`/proc/${pid}/comm`)?.trim() !== 'berth-monitor') return null;
  return pid;
}

/**
 * Waits for the monitor to exit after it recorded the exit. It removes
 * monitor.pid and exits right after closing its clients (or within 1 s when
 * exec'd processes are still being reaped), so this polls briefly.
 */
export async function waitMonitorGone(dir: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (liveMonitorPid(dir) !== null) {
    if (Date.now() > deadline) throw new FailedPreconditionError(`the monitor of ${dir} did not exit 5 s after its container: see ${dir}/monitor.log`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
