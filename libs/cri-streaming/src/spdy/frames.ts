// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00, as Go's spdy package and moby/spdystream speak it;
// kubelet's httpstream/spdy is built on those). Two frame shapes, 8-byte headers, big-endian:
//
//   control: |1| version(15) | type(16) |  flags(8) | length(24) |  payload
//   data:    |0| stream id(31)          |  flags(8) | length(24) |  payload
//
// Control types used here: SYN_STREAM (1: stream id, associated id, priority<<5, slot, header block),
// SYN_REPLY (2: stream id, header block), RST_STREAM (3: stream id, status), SETTINGS (4), PING (6: id),
// GOAWAY (7: last good stream id, status), HEADERS (8: stream id, header block), WINDOW_UPDATE (9).
// Header blocks are compressed (header-compression.ts); this file only packs and unpacks frames and
// the uncompressed header block (count, then length-prefixed name and value; several values of one
// name joined by NUL; names lower case, which Go's reader insists on).
import { InvalidArgumentError } from '@berth/errors';

export const SPDY_VERSION = 3;

export const ControlType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

/** FLAG_FIN on data frames, SYN_STREAM, SYN_REPLY and HEADERS: the sender's half of the stream is done. */
export const FLAG_FIN = 0x01;
/** SYN_STREAM only: the receiver may not send on this stream. */
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
  FrameTooLarge: 11,
} as const;

export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;

/** Largest payload a frame can announce (24-bit length). */
export const MAX_FRAME_PAYLOAD = 0xffffff;

export interface DataFrame {
  kind: 'data';
  streamId: number;
  flags: number;
  data: Buffer;
}

export interface ControlFrame {
  kind: 'control';
  version: number;
  type: number;
  flags: number;
  payload: Buffer;
}

export type Frame = DataFrame | ControlFrame;

/** Header names to their values, in the order received; names lower case. */
export type HeaderBlock = Map<string, string[]>;

/**
 * Splits a byte stream into frames. push() takes what arrived and returns the frames completed by it;
 * a frame announcing more than maxPayload bytes is refused (the caller sends GOAWAY and closes), so a
 * peer cannot make the connection buffer 16 MiB.
 */
export class FrameParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxPayload = 1 << 20) {}

  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.pendingBytes < 8) break;
      const head = this.peek(8);
      const length = head.readUInt32BE(4) & 0xffffff;
      if (length > this.maxPayload) {
        throw new InvalidArgumentError(`SPDY frame of ${length} bytes is larger than the ${this.maxPayload} this server accepts`, {
          field: 'frame.length',
        });
      }
      if (this.pendingBytes < 8 + length) break;
      const whole = this.take(8 + length);
      const first = whole.readUInt32BE(0);
      const flags = whole[4] ?? 0;
      const payload = whole.subarray(8);
      if ((first & 0x80000000) !== 0) {
        frames.push({ kind: 'control', version: (first >>> 16) & 0x7fff, type: first & 0xffff, flags, payload });
      } else {
        frames.push({ kind: 'data', streamId: first & 0x7fffffff, flags, data: payload });
      }
    }
    return frames;
  }

  private peek(n: number): Buffer {
    const first = this.pending[0];
    if (first && first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.pending).subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    const out = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return out;
  }
}

export function encodeControlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new InvalidArgumentError(`SPDY control frame payload of ${payload.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`, { field: 'payload' });
  }
  const out = Buffer.allocUnsafe(8 + payload.length);
  out.writeUInt32BE((0x80000000 | (SPDY_VERSION << 16) | type) >>> 0, 0);
  out.writeUInt32BE(((flags & 0xff) << 24 | payload.length) >>> 0, 4);
  payload.copy(out, 8);
  return out;
}

export function encodeDataFrame(streamId: number, data: Buffer, fin: boolean): Buffer {
  if (data.length > MAX_FRAME_PAYLOAD) {
    throw new InvalidArgumentError(`SPDY data frame of ${data.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`, { field: 'data' });
  }
  const out = Buffer.allocUnsafe(8 + data.length);
  out.writeUInt32BE(streamId & 0x7fffffff, 0);
  out.writeUInt32BE((((fin ? FLAG_FIN : 0) << 24) | data.length) >>> 0, 4);
  data.copy(out, 8);
  return out;
}

export function encodeSynStream(streamId: number, compressedHeaders: Buffer, opts: { fin?: boolean; priority?: number } = {}): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & 0x7fffffff, 0);
  fixed.writeUInt32BE(0, 4);
  fixed[8] = ((opts.priority ?? 0) & 0x7) << 5;
  fixed[9] = 0;
  return encodeControlFrame(ControlType.SynStream, opts.fin ? FLAG_FIN : 0, Buffer.concat([fixed, compressedHeaders]));
}

export function encodeSynReply(streamId: number, compressedHeaders: Buffer, fin = false): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(streamId & 0x7fffffff, 0);
  return encodeControlFrame(ControlType.SynReply, fin ? FLAG_FIN : 0, Buffer.concat([id, compressedHeaders]));
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE(status >>> 0, 4);
  return encodeControlFrame(ControlType.RstStream, 0, p);
}

export function encodePing(id: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(id >>> 0, 0);
  return encodeControlFrame(ControlType.Ping, 0, p);
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastGoodStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(status >>> 0, 4);
  return encodeControlFrame(ControlType.GoAway, 0, p);
}

/** The stream id that starts the payload of SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS and WINDOW_UPDATE. */
export function controlStreamId(frame: ControlFrame): number {
  if (frame.payload.length < 4) {
    throw new InvalidArgumentError(`SPDY control frame type ${frame.type} is too short (${frame.payload.length} bytes)`, { field: 'frame' });
  }
  return frame.payload.readUInt32BE(0) & 0x7fffffff;
}

/** Packs a header block (uncompressed). Names are lower-cased; several values are joined with NUL. */
export function encodeHeaderBlock(headers: HeaderBlock | Record<string, string | string[]>): Buffer {
  const entries = headers instanceof Map ? [...headers.entries()] : Object.entries(headers);
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length, 0);
  parts.push(count);
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(Array.isArray(value) ? value.join('\0') : value, 'utf8');
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(n.length, 0);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length, 0);
    parts.push(nl, n, vl, v);
  }
  return Buffer.concat(parts);
}

/** Unpacks a header block (already decompressed); throws InvalidArgumentError on a malformed one. */
export function decodeHeaderBlock(raw: Buffer): HeaderBlock {
  const bad = (what: string): never => {
    throw new InvalidArgumentError(`malformed SPDY header block: ${what}`, { field: 'headers' });
  };
  if (raw.length < 4) bad('shorter than its count');
  const count = raw.readUInt32BE(0);
  let off = 4;
  const out: HeaderBlock = new Map();
  const readString = (): string => {
    if (off + 4 > raw.length) bad('truncated length');
    const len = raw.readUInt32BE(off);
    off += 4;
    if (off + len > raw.length) bad('truncated string');
    const s = raw.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const name = readString().toLowerCase();
    const value = readString();
    const list = out.get(name) ?? [];
    list.push(...value.split('\0'));
    out.set(name, list);
  }
  return out;
}
