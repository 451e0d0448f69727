// pidfd_open(2) and pidfd_send_signal(2): signal a process by a handle that
// cannot be recycled. A pid read from a file may name a different process
// once the original was reaped; a pidfd opened while the process is known to
// be alive keeps naming that process (ESRCH after it exited, never another).
// glibc 2.36 has wrappers, but through syscall(2) the binding also works on
// older libcs. The numbers are the same on every architecture (new syscalls
// share one table since 5.1).
import { constants } from 'node:os';
import { InvalidArgumentError } from '@berth/errors';
import { libc, check } from './libc';

const syscall_ = libc.func('long syscall(long number, ...)');

const SYS_pidfd_send_signal = 424;
const SYS_pidfd_open = 434;

/** pidfd_open flags. */
export const PIDFD = { NONBLOCK: 0o4000 } as const;

/** Opens a pidfd for pid (a plain fd: close it with fs.closeSync). */
export function pidfdOpen(pid: number, flags = 0): number {
  const ret = syscall_(SYS_pidfd_open, 'int', pid, 'unsigned int', flags) as number | bigint;
  return Number(check(ret, `pidfd_open ${pid}`));
}

/** A signal number from a name ('SIGTERM', 'TERM') or number. */
export function signalNumber(sig: string | number): number {
  if (typeof sig === 'number') {
    if (!Number.isInteger(sig) || sig < 0 || sig > 64) throw new InvalidArgumentError(`signal ${sig} is not 0..64`, { field: 'signal' });
    return sig;
  }
  const name = sig.startsWith('SIG') ? sig : `SIG${sig}`;
  const num = (constants.signals as Record<string, number>)[name];
  if (num === undefined) throw new InvalidArgumentError(`unknown signal ${sig}: use a name such as SIGTERM or a number`, { field: 'signal' });
  return num;
}

/** The name of signal number sig (SIGKILL), or `signal <n>` for a real-time one. */
export function signalName(sig: number): string {
  for (const [name, num] of Object.entries(constants.signals)) if (num === sig) return name;
  return `signal ${sig}`;
}

/** Sends sig to the process behind pidfd. ESRCH (it exited) becomes a NotFound error. */
export function pidfdSendSignal(pidfd: number, sig: string | number): void {
  const num = signalNumber(sig);
  const ret = syscall_(SYS_pidfd_send_signal, 'int', pidfd, 'int', num, 'void *', null, 'unsigned int', 0) as number | bigint;
  check(ret, `pidfd_send_signal ${signalName(num)}`);
}
