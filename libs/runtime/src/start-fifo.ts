// Releasing a created init from Node, without spawning `berth-shim start`.
//
// The init (native/src/shim) waits before execve reading one byte from
// <stateDir>/exec.fifo, which it holds open O_RDWR. `berth-shim start` opens
// the fifo O_WRONLY|O_NONBLOCK, writes the byte and unlinks it
// (native/src/shim/start.c, docs/design/shim.md). This does the same three
// syscalls in the caller's process: spawning the shim for them cost a fork of
// the (large) Node process and an exec, ~5 ms of every container start.
// The errors are the shim's: ENOENT = not waiting (never created, or already
// started), ENXIO = nobody reads the fifo (the init exited).
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FailedPreconditionError, fromNodeError } from '@berth/errors';

/** Lets the init waiting in `stateDir`'s exec.fifo execve its process. */
export function releaseInit(stateDir: string): void {
  const fifo = join(stateDir, 'exec.fifo');
  let fd: number;
  try {
    fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK); // libuv adds O_CLOEXEC itself
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FailedPreconditionError(`start: container is not waiting to start (no ${fifo}: never created, or already started)`, { cause: e });
    if (code === 'ENXIO') throw new FailedPreconditionError(`start: container is not waiting to start (its init exited; nothing reads ${fifo})`, { cause: e });
    throw fromNodeError(e, `start: open ${fifo}`);
  }
  try {
    if (writeSync(fd, '0') !== 1) throw new FailedPreconditionError(`start: short write to ${fifo}`);
  } catch (e) {
    if (e instanceof FailedPreconditionError) throw e;
    throw fromNodeError(e, `start: write ${fifo}`);
  } finally {
    closeSync(fd);
  }
  // The init has its byte; the fifo's only job is done.
  try {
    unlinkSync(fifo);
  } catch {
    /* already gone: nothing depends on it any more */
  }
}
