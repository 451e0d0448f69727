// A client connection to a monitor's attach socket: the stream-like side of
// attach, exec and wait. The monitor pushes output as frames; stdin, resize
// and close-stdin go the other way (monitor-protocol.ts).
import { createConnection, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { UnavailableError, InternalError, FailedPreconditionError } from '@berth/errors';
import { encodeFrame, encodeResize, encodeStdin, Frame, FrameDecoder, parseExitRecord, type ExitStatus } from './monitor-protocol';

/**
 * A live attachment to a container's init or an exec'd process.
 *
 * stdout/stderr carry what the process writes from the moment of attaching
 * (earlier output is in the log); with a terminal everything arrives on
 * stdout. Writing to stdin feeds the process's stdin (a pipe, or the pty);
 * ending it closes a piped stdin (EOF) — on a pty send ^D instead. `exit`
 * settles when the process has exited and all its output was received, with
 * the exit status, or with null if the connection ended first (the monitor
 * died, or close() was called). Output may still sit unread in stdout/stderr
 * then: read those to their end (they end at exit) to get all of it.
 */
export class Attachment {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: Writable;
  readonly exit: Promise<ExitStatus | null>;
  /** Settles with the first RESULT frame (exec: the pid; HELLO with HELLO_ACK: its target's pid, once registered). */
  readonly result: Promise<number>;
  /**
   * After an acknowledged attach (Runtime.attach): the bytes of each stream
   * the process wrote before this client was registered, which it will not
   * see live. Replaying exactly that much of the log first loses and
   * repeats nothing.
   */
  outputBefore: { stdout: number; stderr: number } | undefined;

  private readonly decoder = new FrameDecoder();
  private resolveExit!: (s: ExitStatus | null) => void;
  private exited = false;
  private resolveResult!: (pid: number) => void;
  private rejectResult!: (e: Error) => void;

  private constructor(private readonly sock: Socket, what: string) {
    this.exit = new Promise((res) => (this.resolveExit = res));
    this.result = new Promise((res, rej) => {
      this.resolveResult = res;
      this.rejectResult = rej;
    });
    this.result.catch(() => {}); // observed by exec() and attach()
    this.stdin = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        // After EXIT our side is closed: stdin nobody will read is dropped, as a closed pipe drops it.
        if (this.sock.destroyed || this.exited) return cb();
        const frames = encodeStdin(chunk);
        frames.forEach((f, i) => (i === frames.length - 1 ? this.sock.write(f, () => cb()) : this.sock.write(f)));
        if (frames.length === 0) cb();
      },
      final: (cb) => {
        if (!this.sock.destroyed && !this.exited) this.sock.write(encodeFrame(Frame.CloseStdin));
        cb();
      },
    });
    sock.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = this.decoder.push(chunk);
      } catch (e) {
        this.fail(e as Error);
        return;
      }
      for (const f of frames) this.onFrame(f.type, f.payload, what);
    });
    sock.on('error', () => {}); // 'close' follows; the streams end there
    sock.on('close', () => {
      this.rejectResult(new UnavailableError(`${what}: the monitor closed the connection before answering`));
      this.resolveExit(null);
      this.stdout.end();
      this.stderr.end();
    });
  }

  /** Connects and sends the first frame; fails with Unavailable when no monitor listens. */
  static connect(socketPath: string, first: Buffer, what: string): Promise<Attachment> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ path: socketPath });
      const onError = (e: NodeJS.ErrnoException) =>
        reject(new UnavailableError(`${what}: cannot reach the monitor at ${socketPath}: ${e.code ?? e.message}`, { errno: e.code, cause: e }));
      sock.once('error', onError);
      sock.once('connect', () => {
        sock.off('error', onError);
        sock.write(first);
        resolve(new Attachment(sock, what));
      });
    });
  }

  /** Sets the pty's window size (TIOCSWINSZ); ignored without a terminal. */
  resize(cols: number, rows: number): void {
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 0 || rows < 0 || cols > 0xffff || rows > 0xffff) {
      throw new FailedPreconditionError(`resize ${cols}x${rows}: columns and rows must be integers 0..65535`);
    }
    if (!this.sock.destroyed && !this.exited) this.sock.write(encodeResize(cols, rows));
  }

  /** Detaches; the process keeps running. */
  close(): void {
    this.sock.destroy();
  }

  private onFrame(type: number, payload: Buffer, what: string): void {
    switch (type) {
      case Frame.Stdout:
      case Frame.Stderr: {
        // Backpressure: a consumer that does not read stops our reads, the
        // socket fills, and the monitor drops this client (it never stalls
        // the container for one slow reader); memory here stays bounded.
        const out = type === Frame.Stdout ? this.stdout : this.stderr;
        if (!out.write(payload)) {
          this.sock.pause();
          out.once('drain', () => this.sock.resume());
        }
        break;
      }
      case Frame.Exit:
        // The monitor sends EXIT after the output is drained: nothing follows.
        // It shut its side down and reads (drops) what we still send until we
        // close ours: end now, so it can go.
        this.exited = true;
        this.sock.end();
        this.stdout.end();
        this.stderr.end();
        try {
          this.resolveExit(parseExitRecord(payload.toString(), what));
        } catch (e) {
          this.fail(e as Error);
        }
        break;
      case Frame.Result: {
        let r: { pid?: number; error?: string; stdout?: number; stderr?: number };
        try {
          r = JSON.parse(payload.toString());
        } catch {
          r = { error: `unreadable answer ${payload.toString().slice(0, 80)}` };
        }
        if (typeof r.stdout === 'number' && typeof r.stderr === 'number') this.outputBefore = { stdout: r.stdout, stderr: r.stderr };
        if (typeof r.pid === 'number') this.resolveResult(r.pid);
        else this.rejectResult(new FailedPreconditionError(`${what}: ${r.error ?? 'failed'}`));
        break;
      }
      default:
        this.fail(new InternalError(`${what}: monitor sent unknown frame type ${type}`));
    }
  }

  private fail(e: Error): void {
    this.rejectResult(e);
    this.sock.destroy();
  }
}
