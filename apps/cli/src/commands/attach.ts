// The interactive plumbing shared by run, start -a, attach and exec: a bidi
// stream to the engine carrying stdin, terminal resizes and output frames.
//   - with a TTY requested and stdin a terminal, stdin goes raw (keys reach
//     the container unprocessed) and is restored on every exit path;
//   - SIGWINCH (stdout 'resize') sends the new size;
//   - the detach sequence (default Ctrl-P Ctrl-Q) is recognised here, so a
//     detach never reaches the container, and ends our side of the stream;
//   - without a TTY, SIGINT/SIGTERM are forwarded to the container (docker's
//     --sig-proxy), so Ctrl-C stops the container rather than the CLI only.
import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError } from '@berth/errors';
import { containerExitCode, type ExecRequest } from '@berth/cli-kit';
import type { engineV1 } from '@berth/proto';
import type { Ctx } from '../context';

export interface AttachOptions {
  stdin: boolean;
  tty: boolean;
  /** Replay output written since the start (run: nothing lost between RunContainer and Attach). */
  logs: boolean;
  /** Docker syntax ("ctrl-p,ctrl-q"); "" = that default. */
  detachKeys: string;
  proxySignals: boolean;
}

export interface AttachResult {
  exitCode?: number;
  detached: boolean;
}

/** Thrown when the attach failed before any output arrived (the caller may fall back to logs + wait). */
export class AttachFailed extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error).message);
  }
}

/** "ctrl-p,ctrl-q" -> [0x10, 0x11]; "a,ctrl-[" etc. as Docker's term.ToBytes. */
export function parseDetachKeys(spec: string): number[] {
  const keys = (spec || 'ctrl-p,ctrl-q').split(',');
  return keys.map((k) => {
    const t = k.trim().toLowerCase();
    if (t.length === 1) return t.charCodeAt(0);
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(t);
    if (!m) throw new InvalidArgumentError(`invalid detach keys "${spec}": expected keys like "ctrl-p,ctrl-q" or "a,ctrl-x"`, { field: 'detach-keys' });
    const c = m[1]!;
    return c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 }[c]!;
  });
}

/** Matches the detach sequence across chunks; returns the bytes to forward and whether it completed. */
export class DetachMatcher {
  private matched = 0;
  constructor(private readonly seq: number[]) {}
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.seq[this.matched]) {
        this.matched++;
        if (this.matched === this.seq.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      // A partial match that fails: the held bytes were ordinary input.
      out.push(...this.seq.slice(0, this.matched));
      this.matched = 0;
      if (b === this.seq[0]) this.matched = 1;
      else out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}

/** A message of either stream (msg says which oneof member is set). */
type Msg = Omit<engineV1.AttachResponse__Output, 'msg'> & Omit<engineV1.ExecResponse__Output, 'msg'> & { msg?: 'started' | 'output' | 'exitCode' };

type Duplex = grpc.ClientDuplexStream<engineV1.AttachRequest | engineV1.ExecRequest | engineV1.RunAttachedRequest, engineV1.AttachResponse__Output | engineV1.ExecResponse__Output>;

/**
 * Pumps a bidi stream until the server ends it (exit) or the user detaches.
 * `onMessage` handles server messages; returns true when one was the exit.
 */
async function pump(
  ctx: Ctx,
  call: Duplex,
  o: { stdin: boolean; tty: boolean; detachKeys: string; signalTarget?: string | (() => string | undefined) },
  onMessage: (m: Msg) => void,
): Promise<{ detached: boolean }> {
  const { stdin, stdout } = ctx.io;
  const seq = parseDetachKeys(o.detachKeys);
  const matcher = new DetachMatcher(seq);
  const raw = o.tty && o.stdin && stdin.isTTY === true;
  let detached = false;
  const cleanups: (() => void)[] = [];

  return new Promise<{ detached: boolean }>((resolve, reject) => {
    const finish = (err?: unknown) => {
      for (const c of cleanups.splice(0)) c();
      if (err) reject(err);
      else resolve({ detached });
    };
    call.on('data', (m: Msg) => onMessage(m));
    call.on('end', () => finish());
    call.on('error', (e: unknown) => finish(detached ? undefined : e));

    if (o.tty && stdout.isTTY) {
      const resize = () => call.write({ resize: { width: stdout.columns, height: stdout.rows } });
      resize();
      stdout.on('resize', resize);
      cleanups.push(() => stdout.off('resize', resize));
    }
    if (o.stdin) {
      if (raw) {
        stdin.setRawMode(true);
        cleanups.push(() => stdin.setRawMode(false));
      }
      const onData = (d: Buffer) => {
        // Only a terminal user can type the detach keys; piped input is passed as is.
        const { forward, detach } = raw ? matcher.feed(d) : { forward: d, detach: false };
        if (forward.length) call.write({ stdin: forward });
        if (detach) {
          detached = true;
          call.end();
          call.cancel();
        }
      };
      const onEnd = () => call.write({ closeStdin: true });
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume();
      cleanups.push(() => { stdin.off('data', onData); stdin.off('end', onEnd); stdin.pause(); });
    }
    if (o.signalTarget) {
      const targetOf = typeof o.signalTarget === 'string' ? ((t: string) => () => t)(o.signalTarget) : o.signalTarget;
      const forward = (sig: NodeJS.Signals) => {
        const target = targetOf();
        if (target) ctx.engine().KillContainer({ id: target, signal: sig }).catch(() => undefined);
      };
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        process.on(s, forward);
        cleanups.push(() => process.off(s, forward));
      }
    }
  });
}

function writeFrame(ctx: Ctx, f: engineV1.Frame__Output | null | undefined, streams?: { stdout: boolean; stderr: boolean }): void {
  if (!f) return;
  const err = f.stream === 'stderr';
  // run -a: only the streams asked for (with a TTY all output is stdout).
  if (streams && !(err ? streams.stderr : streams.stdout)) return;
  (err ? ctx.io.stderr : ctx.io.stdout).write(f.data);
}

/** Attaches to a container's main process until it exits or the user detaches. */
export async function attachContainer(ctx: Ctx, id: string, o: AttachOptions): Promise<AttachResult> {
  const call = ctx.engine().Attach() as unknown as Duplex;
  call.write({ start: { id, stdin: o.stdin, stdout: true, stderr: true, logs: o.logs, detachKeys: o.detachKeys } });
  let exitCode: number | undefined;
  let received = false;
  const r = await pump(ctx, call, { stdin: o.stdin, tty: o.tty, detachKeys: o.detachKeys, signalTarget: o.proxySignals ? id : undefined }, (m) => {
    received = true;
    if (m.msg === 'output') writeFrame(ctx, m.output);
    else if (m.msg === 'exitCode') exitCode = m.exitCode;
  }).catch((e: unknown) => {
    throw received ? e : new AttachFailed(e);
  });
  if (r.detached) ctx.err(`\nberth: detached from ${id.slice(0, 12)}; \`berth attach ${id.slice(0, 12)}\` to come back\n`);
  return { exitCode, detached: r.detached };
}

export interface RunAttachedResult {
  id: string;
  exitCode?: number;
  detached: boolean;
  /**
   * The stream failed after the container was created (the namespaces
   * service or the engine was restarted mid-run): its error. The container
   * may run on; broken-run.ts gets its exit code (and the output missed).
   */
  broken?: unknown;
  /** Bytes of each stream received (before run -a's filter). */
  received: { stdout: number; stderr: number };
}

/**
 * berth run in the foreground: one RunAttached call (create, attach before
 * the start, start, output, exit status). The engine removes a --rm
 * container after its exit even when this process is gone, so nothing here
 * has to outlive the exit; a detach (ctrl-p ctrl-q with -it) ends our side
 * and the container runs on. Errors before the container exists are the
 * create's; after it, the start's.
 */
export async function runAttached(
  ctx: Ctx,
  create: engineV1.CreateContainerRequest,
  o: Omit<AttachOptions, 'logs'> & { onCreated: (c: engineV1.RunAttachedCreated__Output) => void; streams?: { stdout: boolean; stderr: boolean } },
): Promise<RunAttachedResult> {
  const call = ctx.engine().RunAttached() as unknown as Duplex;
  call.write({ start: { create, stdin: o.stdin } });
  let id = '';
  let exitCode: number | undefined;
  let broken: unknown;
  const received = { stdout: 0, stderr: 0 };
  type RunMsg = { msg?: 'created' | 'output' | 'exit'; created?: engineV1.RunAttachedCreated__Output | null; output?: engineV1.Frame__Output | null; exit?: engineV1.RunAttachedExit__Output | null };
  const r = await pump(ctx, call, { stdin: o.stdin, tty: o.tty, detachKeys: o.detachKeys, signalTarget: o.proxySignals ? () => id || undefined : undefined }, (raw) => {
    const m = raw as unknown as RunMsg;
    if (m.msg === 'created' && m.created) {
      id = m.created.id;
      o.onCreated(m.created);
    } else if (m.msg === 'output' && m.output) {
      received[m.output.stream === 'stderr' ? 'stderr' : 'stdout'] += m.output.data.length;
      writeFrame(ctx, m.output, o.streams);
    } else if (m.msg === 'exit' && m.exit) exitCode = m.exit.exitCode;
  }).catch((e: unknown) => {
    // Before `created` the error is the create's; after it the caller tells a failed start from a broken stream.
    if (!id) throw e;
    broken = e;
    return { detached: false };
  });
  if (r.detached) ctx.err(`\nberth: detached from ${id.slice(0, 12)}; \`berth attach ${id.slice(0, 12)}\` to come back\n`);
  return { id, exitCode, detached: r.detached, received, ...(broken === undefined ? {} : { broken }) };
}

/** berth exec: the process's exit code (126/127 when it cannot run, as Docker). */
export async function runExec(ctx: Ctx, req: ExecRequest): Promise<number> {
  const call = ctx.engine().Exec() as unknown as Duplex;
  const out = ctx.io.stdout;
  call.write({
    start: {
      id: req.container, args: req.args, env: req.env, workingDir: req.workingDir, user: req.user, tty: req.tty,
      stdin: req.stdin, detach: req.detach, privileged: req.privileged,
      consoleSize: req.tty && out.isTTY ? { width: out.columns, height: out.rows } : null,
    },
  });
  let exitCode: number | undefined;
  let started = false;
  await pump(ctx, call, { stdin: req.stdin && !req.detach, tty: req.tty, detachKeys: '' }, (m) => {
    if (m.msg === 'started') {
      started = true;
      // exec -d returns once the process runs; the engine would hold the stream until it exits.
      if (req.detach) call.cancel();
    } else if (m.msg === 'output') writeFrame(ctx, m.output);
    else if (m.msg === 'exitCode') exitCode = m.exitCode;
  }).catch((e: unknown) => {
    if (!(req.detach && started)) throw e;
  });
  if (req.detach) return 0;
  return exitCode === undefined ? 1 : containerExitCode(exitCode);
}
