// Child subreaper (prctl PR_SET_CHILD_SUBREAPER) and waitpid(2) without
// blocking. A container's init is forked by berth-shim, which exits: the
// init is reparented to the nearest subreaper ancestor, the only process
// that can then learn its exit status. berth-monitor is that process in
// production; a test that drives berth-shim directly makes itself one.
import { libc, check } from './libc';

const prctl_ = libc.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
const waitpid_ = libc.func('int waitpid(int pid, _Out_ int *status, int options)');

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

/** Makes this process a child subreaper (on=true) or stops being one. */
export function setChildSubreaper(on: boolean): void {
  check(prctl_(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) as number, 'prctl PR_SET_CHILD_SUBREAPER');
}

/** How a reaped child ended. */
export interface WaitStatus {
  pid: number;
  /** Exit code when it exited, else null. */
  code: number | null;
  /** Signal number when a signal killed it, else null. */
  signal: number | null;
}

/**
 * waitpid(pid, WNOHANG): null while pid runs, its status once it ended
 * (reaping it). pid must be a child (or reparented to us as subreaper).
 */
export function waitpidNoHang(pid: number): WaitStatus | null {
  const status = [0];
  const r = check(waitpid_(pid, status, WNOHANG) as number, `waitpid ${pid}`);
  if (r === 0) return null;
  const s = status[0]!;
  const sig = s & 0x7f;
  return sig === 0 ? { pid: r, code: (s >> 8) & 0xff, signal: null } : { pid: r, code: null, signal: sig };
}
