// Kubernetes' remotecommand protocol over an upgraded SPDY connection (kubelet's
// cri/streaming/remotecommand: httpstream.go, exec.go, attach.go), for exec and attach.
//
// After the upgrade the client opens one stream per channel, each with a `streamType` header:
// "error" always, "stdin"/"stdout"/"stderr" as the request asked, and "resize" with a tty from v3 on.
// The server replies to each and starts the command once all expected streams are there (or gives
// up after the stream creation timeout). When the command is done the server writes the outcome on
// the error stream and closes everything:
//   - v4.channel.k8s.io: a JSON metav1.Status, {"metadata":{},"status":"Success"} or a Failure; a
//     non-zero exit is reason NonZeroExitCode with a cause {"reason":"ExitCode","message":"<code>"},
//     which is how crictl and kubectl learn the exit code;
//   - v3/v2/channel.k8s.io: nothing on success, the plain error message on failure (no exit code).
// Output is flushed (stdout/stderr FIN) before the status, so a client that reads the error stream
// to its end has all of the output.
import type { Readable } from 'node:stream';
import { isBerthError } from '@berth/errors';
import { ResizeQueue, readResizeStream } from './resize';
import type { StreamingIo } from './runtime';
import type { SpdyServerConnection, SpdyStream } from './spdy/connection';

export const REMOTECOMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
export type RemoteCommandProtocol = (typeof REMOTECOMMAND_PROTOCOLS)[number];

export interface RemoteCommandOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** How a session ended, for the error stream: an exit code (exec), done (attach), or a failure. */
export type RemoteCommandOutcome = { exitCode: number } | { done: true } | { error: string };

export interface RemoteCommandSession {
  /** Resolves with the outcome to report; `io` carries the client's streams. */
  run(io: StreamingIo): Promise<RemoteCommandOutcome>;
}

/** The JSON the v4 error stream carries for an outcome (metav1.Status). */
export function statusFor(outcome: RemoteCommandOutcome): Record<string, unknown> {
  if ('done' in outcome || ('exitCode' in outcome && outcome.exitCode === 0)) {
    return { metadata: {}, status: 'Success' };
  }
  if ('exitCode' in outcome) {
    return {
      metadata: {},
      status: 'Failure',
      message: `command terminated with non-zero exit code: exit status ${outcome.exitCode}`,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(outcome.exitCode) }] },
    };
  }
  // apierrors.NewInternalError
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${outcome.error}`,
    reason: 'InternalError',
    details: { causes: [{ message: outcome.error }] },
    code: 500,
  };
}

/** The text a v1-v3 error stream carries: nothing on success, the Status message otherwise. */
function legacyStatusText(outcome: RemoteCommandOutcome): string {
  const status = statusFor(outcome);
  return status.status === 'Success' ? '' : String(status.message);
}

/** A message for the client from whatever the runtime threw. */
export function errorMessage(err: unknown): string {
  if (isBerthError(err) || err instanceof Error) return err.message;
  return String(err);
}

/**
 * Serves one exec or attach on an upgraded connection: collects the streams, runs the session, writes
 * the outcome and closes the connection. Resolves when the connection is closed.
 */
export async function serveRemoteCommand(
  conn: SpdyServerConnection,
  protocol: RemoteCommandProtocol,
  opts: RemoteCommandOptions,
  session: RemoteCommandSession,
  streamCreationTimeoutMs: number,
  closing: AbortSignal,
): Promise<void> {
  const supportsResize = protocol === 'v4.channel.k8s.io' || protocol === 'v3.channel.k8s.io';
  let expected = 1 + (opts.stdin ? 1 : 0) + (opts.stdout ? 1 : 0) + (opts.stderr ? 1 : 0) + (opts.tty && supportsResize ? 1 : 0);
  const streams: Partial<Record<'error' | 'stdin' | 'stdout' | 'stderr' | 'resize', SpdyStream>> = {};

  const abort = new AbortController();
  const onClosing = (): void => abort.abort();
  closing.addEventListener('abort', onClosing);
  conn.once('close', () => abort.abort());

  const gotAll = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), streamCreationTimeoutMs);
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      conn.off('stream', onStream);
      resolve(ok);
    };
    const onStream = (stream: SpdyStream): void => {
      const type = stream.header('streamtype');
      stream.reply();
      if (type === 'error' || type === 'stdin' || type === 'stdout' || type === 'stderr' || type === 'resize') {
        streams[type] = stream;
      }
      // kubelet counts every replied stream, even one of an unknown type.
      expected--;
      if (expected === 0) finish(true);
    };
    conn.on('stream', onStream);
    abort.signal.addEventListener('abort', () => finish(false), { once: true });
  });
  if (!gotAll) {
    closing.removeEventListener('abort', onClosing);
    conn.destroy();
    return;
  }

  const resize = new ResizeQueue();
  if (streams.resize && opts.tty) readResizeStream(streams.resize, resize);
  else resize.end();
  abort.signal.addEventListener('abort', () => resize.end(), { once: true });

  // The client's stdin: ends with its FIN. A session that does not read it must not stall the others.
  const stdin: Readable | undefined = opts.stdin ? streams.stdin : undefined;
  if (!opts.stdin && streams.stdin) streams.stdin.resume();

  const io: StreamingIo = {
    tty: opts.tty,
    resize,
    signal: abort.signal,
    ...(stdin ? { stdin } : {}),
    ...(opts.stdout && streams.stdout ? { stdout: streams.stdout } : {}),
    ...(opts.stderr && !opts.tty && streams.stderr ? { stderr: streams.stderr } : {}),
  };

  let outcome: RemoteCommandOutcome;
  try {
    outcome = await session.run(io);
  } catch (err) {
    outcome = { error: errorMessage(err) };
  }

  try {
    if (!conn.isClosed) {
      await Promise.all([endStream(streams.stdout), endStream(streams.stderr)]);
      const errStream = streams.error;
      if (errStream && !conn.isClosed) {
        const text = protocol === 'v4.channel.k8s.io' ? JSON.stringify(statusFor(outcome)) : legacyStatusText(outcome);
        if (text.length > 0) await writeStream(errStream, text);
        await endStream(errStream);
      }
    }
  } finally {
    closing.removeEventListener('abort', onClosing);
    resize.end();
    conn.close();
  }
}

function writeStream(stream: SpdyStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) return resolve();
    stream.write(text, () => resolve());
  });
}

/** Ends our half of a stream (FIN) once what was written went out; resolves either way. */
function endStream(stream: SpdyStream | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!stream || stream.destroyed || stream.writableFinished) return resolve();
    stream.once('error', () => resolve());
    if (stream.writableEnded) stream.once('finish', () => resolve());
    else stream.end(() => resolve());
  });
}
