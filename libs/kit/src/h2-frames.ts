// HTTP/2 frames (RFC 9113 section 4 and 6): their types, flags, error codes,
// settings, how one is written and how a byte stream is cut into them.
// h2-session.ts gives them meaning.
//
//   +-----------------------------------------------+
//   |                 Length (24)                   |
//   +---------------+---------------+---------------+
//   |   Type (8)    |   Flags (8)   |
//   +-+-------------+---------------+-------------------------------+
//   |R|                 Stream Identifier (31)                      |
//   +=+=============================================================+
//   |                   Frame Payload (0...)                      ...
//   +---------------------------------------------------------------+

/** The client connection preface (RFC 9113 3.4), sent before the first SETTINGS. */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME_HEADER = 9;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes (RFC 9113 section 7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** The name of an error code, for messages. */
export function errorCodeName(code: number): string {
  return Object.keys(ErrorCode).find((k) => ErrorCode[k as keyof typeof ErrorCode] === code) ?? `0x${code.toString(16)}`;
}

/** Settings identifiers (RFC 9113 6.5.2). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** The protocol's defaults and limits (RFC 9113 6.5.2, 6.9). */
export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const MAX_WINDOW = 2 ** 31 - 1;
export const MAX_FRAME_SIZE_LIMIT = 2 ** 24 - 1;

/** A frame as read: its header fields and payload (a view into the read buffer). */
export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A connection error found while reading (RFC 9113 5.4.1): the session sends GOAWAY with `code` and closes. */
export class H2ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** One frame's bytes. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  out.set(payload, FRAME_HEADER);
  return out;
}

export function encodeSettings(settings: ReadonlyArray<[id: number, value: number]>): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, payload);
}

export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

export function encodeRstStream(streamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code, 0);
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, payload);
}

export function encodeGoaway(lastStreamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  return encodeFrame(FrameType.GOAWAY, 0, 0, payload);
}

/**
 * A header block as HEADERS and, past `maxFrameSize`, CONTINUATION frames
 * (RFC 9113 6.2, 6.10): END_HEADERS on the last, END_STREAM on the HEADERS.
 */
export function encodeHeaderBlock(streamId: number, block: Buffer, endStream: boolean, maxFrameSize: number): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  do {
    const part = block.subarray(offset, offset + maxFrameSize);
    offset += part.length;
    const last = offset >= block.length;
    const first = frames.length === 0;
    const flags = (last ? Flag.END_HEADERS : 0) | (first && endStream ? Flag.END_STREAM : 0);
    frames.push(encodeFrame(first ? FrameType.HEADERS : FrameType.CONTINUATION, flags, streamId, part));
  } while (offset < block.length);
  return frames;
}

/**
 * Cuts the bytes a peer sends into frames. A frame longer than
 * `maxFrameSize` (what this side announced as SETTINGS_MAX_FRAME_SIZE) is a
 * FRAME_SIZE_ERROR (RFC 9113 4.2), found from its header alone: nothing
 * waits for, or buffers, the payload of a frame that may not be sent.
 * With `firstType`, the first frame must be of that type (a server's
 * preface is SETTINGS, RFC 9113 3.4): checked before its length, so a peer
 * that is not HTTP/2 at all is named as such.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
    private firstType?: number,
  ) {}

  /** Adds bytes and returns the frames now complete; throws H2ProtocolError on an oversized frame. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.buffered >= FRAME_HEADER) {
      let head = this.chunks[0]!;
      if (head.length < FRAME_HEADER) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      if (this.firstType !== undefined) {
        if (head[3] !== this.firstType) {
          throw new H2ProtocolError(
            ErrorCode.PROTOCOL_ERROR,
            `the server's first frame is type 0x${head[3]!.toString(16)}, not 0x${this.firstType.toString(16)} (SETTINGS): is it an HTTP/2 (gRPC) server?`,
          );
        }
        this.firstType = undefined;
      }
      const length = head.readUIntBE(0, 3);
      if (length > this.maxFrameSize) {
        throw new H2ProtocolError(
          ErrorCode.FRAME_SIZE_ERROR,
          `the server sent a frame of ${length} bytes (type 0x${head[3]!.toString(16)}), larger than the ${this.maxFrameSize} allowed (SETTINGS_MAX_FRAME_SIZE)`,
        );
      }
      if (this.buffered < FRAME_HEADER + length) break;
      if (head.length < FRAME_HEADER + length) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      frames.push({
        type: head[3]!,
        flags: head[4]!,
        streamId: head.readUInt32BE(5) & 0x7fffffff,
        payload: head.subarray(FRAME_HEADER, FRAME_HEADER + length),
      });
      const rest = head.subarray(FRAME_HEADER + length);
      if (rest.length) this.chunks[0] = rest;
      else this.chunks.shift();
      this.buffered -= FRAME_HEADER + length;
    }
    return frames;
  }
}
