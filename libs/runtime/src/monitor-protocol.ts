// The attach socket protocol of berth-monitor (native/src/monitor/frame.h;
// docs/design/monitor.md). Every message is a frame:
//   type: u8 | length: u32 big-endian | payload
// A connection's first frame is HELLO (attach to / watch a process) or EXEC
// (start an exec'd process and attach to it). Client frames carry at most
// MAX_CLIENT_PAYLOAD bytes; larger stdin writes are split here.
import { signalName } from '@berth/sys';
import { DataLossError } from '@berth/errors';

export const Frame = {
  Stdin: 1,
  Stdout: 2,
  Stderr: 3,
  Resize: 4,
  CloseStdin: 5,
  Exit: 6,
  Hello: 7,
  Exec: 8,
  Result: 9,
} as const;
export type FrameType = (typeof Frame)[keyof typeof Frame];

/** HELLO flags. */
export const HELLO_OUTPUT = 0x1;
/** HELLO flag: the monitor answers RESULT {"pid"} once the client is registered. */
export const HELLO_ACK = 0x2;
/** EXEC flags. */
export const EXEC_TERMINAL = 0x1;
export const EXEC_STDIN = 0x2;

export const HEADER_LEN = 5;
export const MAX_CLIENT_PAYLOAD = 4096;
/** Monitor frames carry one read of output (8 KiB today); a bound keeps a corrupt stream from allocating. */
const MAX_MONITOR_PAYLOAD = 1 << 20;

export function encodeFrame(type: FrameType, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LEN + payload.length);
  out[0] = type;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, HEADER_LEN);
  return out;
}

/** Splits stdin bytes into frames the monitor accepts. */
export function encodeStdin(data: Uint8Array): Buffer[] {
  const frames: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_CLIENT_PAYLOAD) frames.push(encodeFrame(Frame.Stdin, data.subarray(off, off + MAX_CLIENT_PAYLOAD)));
  return frames;
}

export function encodeResize(cols: number, rows: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(cols, 0);
  p.writeUInt16BE(rows, 2);
  return encodeFrame(Frame.Resize, p);
}

export function encodeHello(flags: number, target = ''): Buffer {
  return encodeFrame(Frame.Hello, Buffer.concat([Buffer.from([flags]), Buffer.from(target)]));
}

export function encodeExec(flags: number, execId: string, configPath: string): Buffer {
  return encodeFrame(Frame.Exec, Buffer.concat([Buffer.from([flags]), Buffer.from(execId), Buffer.from([0]), Buffer.from(configPath)]));
}

/** Incremental decoder for the monitor's side of the stream. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns the complete frames they finish. */
  push(chunk: Buffer): { type: number; payload: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { type: number; payload: Buffer }[] = [];
    while (this.buf.length >= HEADER_LEN) {
      const len = this.buf.readUInt32BE(1);
      if (len > MAX_MONITOR_PAYLOAD) throw new DataLossError(`monitor sent a frame of ${len} bytes; the attach stream is corrupt`);
      if (this.buf.length < HEADER_LEN + len) break;
      out.push({ type: this.buf[0]!, payload: this.buf.subarray(HEADER_LEN, HEADER_LEN + len) });
      this.buf = this.buf.subarray(HEADER_LEN + len);
    }
    return out;
  }
}

/**
 * How a process ended. exitCode follows the shell's convention: 128+n when it
 * was killed by signal n, and then `signal` names it (null otherwise).
 */
export interface ExitStatus {
  exitCode: number;
  signal: string | null;
  /** RFC3339 with nanoseconds, UTC. */
  exitedAt: string;
  /** From the memory cgroup's OOM kill counter; null when the container joins no memory cgroup berth knows of. */
  oomKilled: boolean | null;
}

/** Parses the monitor's exit record (exit file, EXIT frame). */
export function parseExitRecord(text: string, where: string): ExitStatus {
  let raw: { exitCode?: unknown; signal?: unknown; exitedAt?: unknown; oomKilled?: unknown };
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DataLossError(`exit record ${where} is not JSON: ${JSON.stringify(text.slice(0, 80))}`, { cause: e });
  }
  if (typeof raw.exitCode !== 'number' || typeof raw.signal !== 'number' || typeof raw.exitedAt !== 'string') {
    throw new DataLossError(`exit record ${where} lacks exitCode/signal/exitedAt: ${text.slice(0, 200)}`);
  }
  return {
    exitCode: raw.exitCode,
    signal: raw.signal ? signalName(raw.signal) : null,
    exitedAt: raw.exitedAt,
    oomKilled: typeof raw.oomKilled === 'boolean' ? raw.oomKilled : null,
  };
}
