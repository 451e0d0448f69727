// Exit codes as the Docker CLI uses them (docs: "docker run" exit status):
//   125  the berth command itself failed (bad flags, daemon error on run/create/start)
//   126  the container command cannot be invoked (permission denied, not executable)
//   127  the container command was not found
//   N    otherwise the container's own exit code is passed through (run, start -a, wait)
//   1    other commands' failures (docker rm of a missing container exits 1)
import { errorCode, isBerthError } from '@berth/errors';

export const EXIT_BERTH_FAILURE = 125;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_NOT_FOUND = 127;
export const EXIT_GENERIC = 1;

/** For run/create/start/exec failures before the container process ran. */
export function exitCodeForRunError(err: unknown): number {
  const msg = err instanceof Error ? err.message : String(err);
  if (/executable file not found|no such file or directory|ENOENT/i.test(msg) && /exec|start|createProcess|command/i.test(msg)) return EXIT_NOT_FOUND;
  if (/permission denied|EACCES|not executable/i.test(msg) && /exec|start|createProcess|command/i.test(msg)) return EXIT_CANNOT_INVOKE;
  return EXIT_BERTH_FAILURE;
}

/** For any command: usage errors 125, run-family failures per exitCodeForRunError, others 1. */
export function exitCodeFor(command: string, err: unknown): number {
  // docker build: a build that fails (a bad Dockerfile, a failed step) exits 1; a bad flag stays 125.
  if ((command === 'build' || command === 'image build') && isBerthError(err) && err.field === 'dockerfile') return EXIT_GENERIC;
  if (isBerthError(err) && errorCode(err) === 'InvalidArgument' && (err.field !== undefined)) return EXIT_BERTH_FAILURE;
  if (['run', 'create', 'start', 'exec', 'container run', 'container create', 'container start', 'container exec'].includes(command)) {
    return exitCodeForRunError(err);
  }
  return EXIT_GENERIC;
}

/** A container exit code as the CLI process's (negative or > 255 folded like a shell). */
export function containerExitCode(code: number): number {
  return ((code % 256) + 256) % 256;
}
