// The end of a foreground run whose RunAttached stream broke after the
// container was created: the namespaces service carrying its output was
// restarted (the engine then fails the call rather than end it short), or
// the engine itself was. The container runs on, or ran; what must not be
// lost is its exit code. So:
//   - the container's state says whether it ever started: still created (or
//     gone, an --rm one whose start failed) means the start failed, and that
//     error is the run's, as before;
//   - else a warning on stderr that the output may be incomplete, and the
//     exit code from WaitContainer (condition "removed" for --rm: the engine
//     answers the code once it removed the container), asked at once, so
//     the engine cannot remove the container before the wait is registered;
//   - meanwhile the output the stream did not deliver, from the container's
//     log (Logs, following until it stops): per stream, as many bytes as the
//     stream had delivered are skipped. The log holds lines (a newline is
//     added to every record that is not partial), so this is exact for
//     output that ends its lines; --log-driver none has no log (nothing to
//     add), and an --rm container's log goes with it.
// Calls that find the engine being restarted are made again (for up to
// RETRY_MS), as the daemon heals by itself.
import { ErrorCode, errorCode, isNotFound } from '@berth/errors';
import type { engineV1 } from '@berth/proto';
import type { Ctx } from '../context';

/** How long a call that finds the engine unreachable is made again. */
const RETRY_MS = 120_000;
/** How long the catch-up from the log may run on after the exit code arrived. */
const CATCH_UP_AFTER_EXIT_MS = 10_000;
/** A wait's deadline; a longer run waits again (grpc deadlines are bounded). */
const WAIT_DEADLINE_MS = 24 * 3600_000;

export interface BrokenRun {
  id: string;
  /** The error the stream failed with. */
  error: unknown;
  /** Bytes of each stream the stream delivered (before run -a's filter). */
  received: { stdout: number; stderr: number };
  autoRemove: boolean;
  /** run -a: the streams to print. */
  streams?: { stdout: boolean; stderr: boolean };
}

const unreachable = (e: unknown): boolean => {
  const c = errorCode(e);
  return c === ErrorCode.Unavailable || c === ErrorCode.Cancelled
    || /Connection dropped|ECONNRESET|ECONNREFUSED|ENOENT|socket hang up|GOAWAY|RST_STREAM/i.test((e as Error).message ?? '');
};

async function again<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + RETRY_MS;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await fn();
    } catch (e) {
      if (!unreachable(e) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The exit code of a run whose stream broke; throws the stream's error when the container never started. */
export async function endOfBrokenRun(ctx: Ctx, b: BrokenRun): Promise<number> {
  const engine = ctx.engine();
  const short = b.id.slice(0, 12);
  const wait = async (): Promise<number> => {
    for (;;) {
      try {
        return (await again(() => engine.WaitContainer({ id: b.id, condition: b.autoRemove ? 'removed' : 'not-running' }, { timeoutMs: WAIT_DEADLINE_MS }))).exitCode;
      } catch (e) {
        if (errorCode(e) !== ErrorCode.DeadlineExceeded) throw e;
      }
    }
  };
  // Asked before anything else: an --rm container's code is answered only to a wait registered before its removal.
  const exit = b.autoRemove ? wait() : undefined;
  exit?.catch(() => undefined);
  let state: string;
  try {
    state = (await again(() => engine.InspectContainer({ id: b.id, size: false }))).summary?.state ?? '';
  } catch (e) {
    if (!isNotFound(e)) throw e;
    state = '';
  }
  if (state === 'created' || (state === '' && !b.autoRemove)) throw b.error; // the start failed: its error is the run's
  if (state === '') {
    // --rm and gone: it ran and was removed before the wait arrived, or its start failed and took it away.
    const code = await exit!.catch(() => undefined);
    if (code === undefined) throw b.error;
    return code;
  }
  ctx.err(`berth: the output stream of ${short} broke (${(b.error as Error).message}): output may be incomplete; waiting for its exit\n`);
  const done = new AbortController();
  const catchUp = printMissedOutput(ctx, b, done.signal).catch(() => undefined);
  try {
    return await (exit ?? wait());
  } finally {
    const t = setTimeout(() => done.abort(), CATCH_UP_AFTER_EXIT_MS);
    await catchUp;
    clearTimeout(t);
  }
}

/** The container's log from the start, following until it stops, minus what the stream had printed. */
async function printMissedOutput(ctx: Ctx, b: BrokenRun, signal: AbortSignal): Promise<void> {
  const skip = { ...b.received };
  const stream = ctx.engine().Logs({ id: b.id, follow: true, since: '', until: '', stdout: true, stderr: true }, { signal });
  for await (const m of stream as AsyncIterable<engineV1.LogEntry__Output>) {
    const which = m.stream === 'stderr' ? 'stderr' : 'stdout';
    let data = m.partial ? m.line : Buffer.concat([m.line, Buffer.from('\n')]);
    const n = Math.min(skip[which], data.length);
    skip[which] -= n;
    data = data.subarray(n);
    if (data.length && (!b.streams || b.streams[which])) (which === 'stderr' ? ctx.io.stderr : ctx.io.stdout).write(data);
  }
}
