// One HTTP/2 client connection over a unix socket (RFC 9113), the part of
// HTTP/2 that gRPC needs, for berth's short-lived clients (h2-client.ts).
// Node's node:http2 would serve, but loading it pulls ~70 more built-in
// modules (tls, crypto, http...): 16-18 ms of every CLI start. This speaks
// the protocol over node:net itself:
//
// - Start: the client preface and SETTINGS (no push; a 1 MiB stream window;
//   the header list bound below), then a WINDOW_UPDATE raising the
//   connection's window; requests go out at once, without waiting for the
//   server's SETTINGS (RFC 9113 3.4). The server's SETTINGS are applied and
//   acknowledged; its first frame must be SETTINGS.
// - Streams: odd ids from 1, any number at a time on one connection. A
//   request is HEADERS (+ CONTINUATION past the peer's frame size), DATA,
//   and END_STREAM on an empty DATA frame when the caller ends it. A response
//   is HEADERS, DATA, and trailing HEADERS with END_STREAM, delivered in
//   that order, also when the caller pauses reading.
// - Flow control (6.9), both ways. Sending: a stream's DATA waits for both
//   its window and the connection's, and is cut at the peer's
//   SETTINGS_MAX_FRAME_SIZE; a write's callback runs once all of it is on
//   the socket, so a large stdin (attach, exec) waits for the server to read
//   instead of overrunning it. Receiving: the connection's window is
//   replenished as DATA arrives, a stream's only as its reader takes the
//   data, so a paused reader stops the server (back-pressure).
// - PING is answered (SETTINGS acknowledged), as long as the server reads
//   the answers (MAX_BACKLOGGED_ACKS); RST_STREAM ends a stream with its code; GOAWAY lets
//   streams up to its last id finish and refuses the rest (they never
//   reached the server, so a retry is safe), and the connection takes no
//   new streams.
// - Bounds on what a server sends: frames up to 16 KiB (the default
//   SETTINGS_MAX_FRAME_SIZE, which this side keeps), a header block and the
//   decoded header list up to 64 KiB. A frame that breaks the protocol is a
//   connection error: GOAWAY with its code, the socket closed, and every
//   open stream ended with the error's words (RFC 9113 5.4.1).
// HPACK is hpack.ts; the frames' layout is h2-frames.ts.
import type * as net from 'node:net';
import {
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  encodeFrame,
  encodeGoaway,
  encodeHeaderBlock,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  ErrorCode,
  errorCodeName,
  Flag,
  type Frame,
  FrameReader,
  FrameType,
  H2ProtocolError,
  MAX_FRAME_SIZE_LIMIT,
  MAX_WINDOW,
  PREFACE,
  Setting,
} from './h2-frames';
import { encodeHeaders, HpackDecoder, HpackError, type HeaderField } from './hpack';

/** The stream window this side announces (SETTINGS_INITIAL_WINDOW_SIZE). */
export const STREAM_WINDOW = 1 << 20;
/** The connection window this side keeps open. */
export const CONNECTION_WINDOW = 4 << 20;
/** The largest header block and decoded header list accepted (SETTINGS_MAX_HEADER_LIST_SIZE). */
export const MAX_HEADER_LIST = 64 * 1024;
/** HPACK's default table size, which this side keeps (SETTINGS_HEADER_TABLE_SIZE). */
const HEADER_TABLE_SIZE = 4096;
/**
 * Acknowledgements (PING, SETTINGS) written while the socket holds unsent
 * bytes, before the server is answered ENHANCE_YOUR_CALM: a server that
 * sends them faster than it reads the answers would otherwise grow this
 * side's write buffer without bound (nghttp2 keeps the same limit).
 */
export const MAX_BACKLOGGED_ACKS = 1000;

/**
 * Why a stream ended without its response: the connection never came up
 * ('connect'), went away under it ('dropped'), broke the protocol
 * ('protocol'), or the server refused it before processing it ('refused':
 * GOAWAY below its id, safe to retry).
 */
export class H2SessionError extends Error {
  constructor(
    readonly kind: 'connect' | 'dropped' | 'protocol' | 'refused',
    message: string,
  ) {
    super(message);
  }
}

/** What a stream tells its owner, in the order the server sent it. */
export interface StreamEvents {
  /** A header block: the response's headers, or trailers when `endStream`. */
  headers(fields: HeaderField[], endStream: boolean): void;
  /** Response body bytes. */
  data(chunk: Buffer): void;
  /** The server ended its side (END_STREAM), after every header and data event. */
  end(): void;
  /** The server reset the stream (RST_STREAM) with this error code. */
  reset(code: number): void;
  /** The connection failed under the stream. */
  error(err: H2SessionError): void;
}

type Inbound =
  | { kind: 'headers'; fields: HeaderField[]; end: boolean }
  | { kind: 'data'; chunk: Buffer; counted: number }
  | { kind: 'end' }
  | { kind: 'reset'; code: number }
  | { kind: 'error'; err: H2SessionError };

/** One request/response exchange on a session. */
export class H2Stream {
  /** The server may still send (no END_STREAM, RST_STREAM or connection end yet). */
  private remoteOpen = true;
  /** This side may still send (no END_STREAM or RST_STREAM sent). */
  private localOpen = true;
  private endQueued = false;
  private readonly outbox: Array<{ data: Buffer; cb: () => void }> = [];
  /** Events held while the reader is paused (and while one is being delivered). */
  private readonly inbox: Inbound[] = [];
  private paused = false;
  private delivering = false;
  /** Bytes the server may still send before a WINDOW_UPDATE (6.9.1). */
  recvWindow = STREAM_WINDOW;
  /** Bytes taken by the reader and not yet given back in a WINDOW_UPDATE. */
  private unacked = 0;
  /** Bytes this side may still send. */
  sendWindow: number;

  constructor(
    private readonly session: H2Session,
    readonly id: number,
    private readonly events: StreamEvents,
    initialSendWindow: number,
  ) {
    this.sendWindow = initialSendWindow;
  }

  /** Whether the stream is finished on both sides (the session forgets it). */
  get closed(): boolean {
    return !this.remoteOpen && !this.localOpen;
  }

  /** Queues request body bytes; `cb` runs when all of them are on the socket (or the stream ended first). */
  write(data: Buffer, cb: () => void): void {
    if (!this.localOpen || this.endQueued || data.length === 0) {
      cb();
      return;
    }
    this.outbox.push({ data, cb });
    this.session.flush(this);
  }

  /** Ends this side after the queued writes (END_STREAM). */
  end(): void {
    if (!this.localOpen || this.endQueued) return;
    this.endQueued = true;
    this.session.flush(this);
  }

  /** Ends the stream at once for both sides (RST_STREAM): CANCEL by default, NO_ERROR after a finished response. */
  reset(code: number = ErrorCode.CANCEL): void {
    const wasOpen = this.localOpen || this.remoteOpen;
    this.localOpen = false;
    this.remoteOpen = false;
    this.inbox.length = 0;
    this.releaseWrites();
    if (wasOpen) this.session.sendReset(this, code);
  }

  /** Holds response events until resume(): the stream's window is not given back meanwhile. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pump();
  }

  // --- for the session ---

  /** The next DATA frame's worth of queued bytes within `allowed`, or undefined when none or END_STREAM is due. */
  takeOutgoing(allowed: number): { chunk: Buffer; done?: () => void } | undefined {
    const head = this.outbox[0];
    if (!head || allowed <= 0) return undefined;
    const chunk = head.data.subarray(0, allowed);
    if (chunk.length === head.data.length) {
      this.outbox.shift();
      return { chunk, done: head.cb };
    }
    head.data = head.data.subarray(chunk.length);
    return { chunk };
  }

  get hasOutgoing(): boolean {
    return this.outbox.length > 0;
  }

  /** Whether END_STREAM should go out now: asked for and every queued byte sent. */
  get endDue(): boolean {
    return this.localOpen && this.endQueued && this.outbox.length === 0;
  }

  markLocalEnded(): void {
    this.localOpen = false;
  }

  markRemoteEnded(): void {
    this.remoteOpen = false;
  }

  get isRemoteOpen(): boolean {
    return this.remoteOpen;
  }

  /** Ends both sides without a frame (the connection is gone, or the server reset the stream). */
  drop(): void {
    this.localOpen = false;
    this.remoteOpen = false;
    this.releaseWrites();
  }

  private releaseWrites(): void {
    for (const w of this.outbox.splice(0)) w.cb();
  }

  deliver(event: Inbound): void {
    this.inbox.push(event);
    this.pump();
  }

  private pump(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (!this.paused && this.inbox.length > 0) {
        const e = this.inbox.shift()!;
        switch (e.kind) {
          case 'headers':
            this.events.headers(e.fields, e.end);
            break;
          case 'data':
            this.unacked += e.counted;
            if (this.remoteOpen && this.unacked >= STREAM_WINDOW / 2) {
              this.session.sendWindowUpdate(this.id, this.unacked);
              this.recvWindow += this.unacked;
              this.unacked = 0;
            }
            this.events.data(e.chunk);
            break;
          case 'end':
            this.events.end();
            break;
          case 'reset':
            this.events.reset(e.code);
            break;
          case 'error':
            this.events.error(e.err);
            break;
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}

/** An HTTP/2 connection to one unix socket, opened at construction. */
export class H2Session {
  private readonly socket: net.Socket;
  private readonly reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE, FrameType.SETTINGS);
  private readonly decoder = new HpackDecoder(HEADER_TABLE_SIZE, MAX_HEADER_LIST);
  private readonly streams = new Map<number, H2Stream>();
  private nextId = 1;
  /** Ids above this were never opened: a frame for one is a protocol error. */
  private lastOpened = 0;
  private connected = false;
  private sawSettings = false;
  private lastError?: Error;
  private failure?: H2SessionError;
  private goingAway = false;
  private closing = false;
  private refed = false;
  private corked = false;
  private drainWaiters: Array<() => void> = [];
  /** Acknowledgements written since the socket last drained. */
  private backloggedAcks = 0;

  // The server's settings, as applied.
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private peerInitialWindow = DEFAULT_WINDOW;
  private connSendWindow = DEFAULT_WINDOW;
  /** A dynamic table size update owed at the start of the next header block (RFC 7541 4.2). */
  private owedTableSize?: number;
  private encoderTableSize = HEADER_TABLE_SIZE;

  // Receiving.
  private connRecvWindow = CONNECTION_WINDOW;
  private connUnacked = 0;
  /** A header block being read: HEADERS then CONTINUATION frames until END_HEADERS. */
  private partial?: { streamId: number; endStream: boolean; parts: Buffer[]; size: number };

  constructor(readonly socketPath: string) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- node:net with the first call, not with this module
    const { connect } = require('node:net') as typeof net;
    this.socket = connect(socketPath);
    this.socket.unref();
    this.socket.on('connect', () => {
      this.connected = true;
    });
    this.socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    this.socket.on('drain', () => {
      this.backloggedAcks = 0;
      for (const w of this.drainWaiters.splice(0)) w();
    });
    this.socket.on('error', (err) => {
      this.lastError = err;
    });
    this.socket.on('close', () => this.onClose());
    this.write(PREFACE);
    this.write(
      encodeSettings([
        [Setting.ENABLE_PUSH, 0],
        [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
        [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST],
      ]),
    );
    this.write(encodeWindowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW));
  }

  /** Whether a new stream may start here (not failed, closing or told to go away). */
  get usable(): boolean {
    return !this.failure && !this.goingAway && !this.closing && !this.socket.destroyed && this.nextId <= MAX_WINDOW;
  }

  /** Opens a stream with a request header block; its events come through `events`. */
  request(fields: readonly HeaderField[], events: StreamEvents): H2Stream {
    if (!this.usable) throw new Error('the HTTP/2 session takes no new streams');
    const id = this.nextId;
    this.nextId += 2;
    this.lastOpened = id;
    const stream = new H2Stream(this, id, events, this.peerInitialWindow);
    this.streams.set(id, stream);
    this.updateRef();
    const block = encodeHeaders(fields, this.owedTableSize);
    this.owedTableSize = undefined;
    for (const f of encodeHeaderBlock(id, block, false, this.peerMaxFrame)) this.write(f);
    return stream;
  }

  /** Closes the connection once its open streams are done (GOAWAY NO_ERROR, then the socket ends). */
  close(): void {
    this.closing = true;
    if (this.streams.size === 0) this.shutdown();
  }

  // --- sending ---

  /** Writes frames, coalescing those of one tick into one socket write. */
  private write(bytes: Buffer): boolean {
    if (this.socket.destroyed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    return this.socket.write(bytes);
  }

  /** Runs `cb` now, or when the socket has drained what it holds (the writer's back-pressure). */
  private afterDrain(cb: () => void): void {
    if (this.socket.writableNeedDrain && !this.socket.destroyed) this.drainWaiters.push(cb);
    else cb();
  }

  /** Sends what a stream has queued, as far as both windows and the peer's frame size allow. */
  flush(stream: H2Stream): void {
    if (this.socket.destroyed || !this.streams.has(stream.id)) return;
    while (stream.hasOutgoing) {
      const out = stream.takeOutgoing(Math.min(stream.sendWindow, this.connSendWindow, this.peerMaxFrame));
      if (!out) break;
      stream.sendWindow -= out.chunk.length;
      this.connSendWindow -= out.chunk.length;
      this.write(encodeFrame(FrameType.DATA, 0, stream.id, out.chunk));
      if (out.done) this.afterDrain(out.done);
    }
    if (stream.endDue) {
      this.write(encodeFrame(FrameType.DATA, Flag.END_STREAM, stream.id));
      stream.markLocalEnded();
      this.forgetIfClosed(stream);
    }
  }

  sendWindowUpdate(streamId: number, increment: number): void {
    this.write(encodeWindowUpdate(streamId, increment));
  }

  sendReset(stream: H2Stream, code: number): void {
    this.write(encodeRstStream(stream.id, code));
    this.forgetIfClosed(stream);
  }

  private forgetIfClosed(stream: H2Stream): void {
    if (!stream.closed || !this.streams.delete(stream.id)) return;
    this.updateRef();
    if (this.streams.size === 0 && (this.closing || this.goingAway)) this.shutdown();
  }

  /** The connection keeps the process alive only while a stream is open. */
  private updateRef(): void {
    const want = this.streams.size > 0;
    if (want === this.refed) return;
    this.refed = want;
    if (want) this.socket.ref();
    else this.socket.unref();
  }

  private shutdown(): void {
    if (this.socket.destroyed) return;
    this.write(encodeGoaway(0, ErrorCode.NO_ERROR));
    this.socket.end();
  }

  // --- receiving ---

  private onBytes(chunk: Buffer): void {
    try {
      for (const frame of this.reader.push(chunk)) {
        if (this.failure) return;
        this.onFrame(frame);
      }
    } catch (e) {
      if (e instanceof H2ProtocolError) this.protocolError(e.code, e.message);
      else if (e instanceof HpackError) this.protocolError(ErrorCode.COMPRESSION_ERROR, e.message);
      else throw e;
    }
  }

  private onFrame(f: Frame): void {
    if (!this.sawSettings) {
      // The reader has checked the type (the server's preface); an acknowledgement cannot be first.
      if (f.flags & Flag.ACK) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "the server's first frame is a SETTINGS acknowledgement, not its own SETTINGS");
      this.sawSettings = true;
    }
    if (this.partial && f.type !== FrameType.CONTINUATION) {
      throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent a frame of type 0x${f.type.toString(16)} inside a header block (CONTINUATION expected)`);
    }
    switch (f.type) {
      case FrameType.DATA:
        return this.onData(f);
      case FrameType.HEADERS:
        return this.onHeaders(f);
      case FrameType.CONTINUATION:
        return this.onContinuation(f);
      case FrameType.RST_STREAM:
        return this.onRstStream(f);
      case FrameType.SETTINGS:
        return this.onSettings(f);
      case FrameType.PING:
        return this.onPing(f);
      case FrameType.GOAWAY:
        return this.onGoaway(f);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(f);
      case FrameType.PUSH_PROMISE:
        throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, 'the server sent PUSH_PROMISE, which this client disabled (SETTINGS_ENABLE_PUSH 0)');
      case FrameType.PRIORITY:
        if (f.streamId === 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, 'the server sent PRIORITY on stream 0');
        if (f.payload.length !== 5) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, `the server sent a PRIORITY frame of ${f.payload.length} bytes (5 expected)`);
        return; // advice only
      default:
        return; // unknown frame types are ignored (RFC 9113 5.5)
    }
  }

  /** A frame on a stream id this client never opened (or stream 0 where a stream is required). */
  private checkStreamId(f: Frame, what: string): void {
    if (f.streamId === 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent ${what} on stream 0`);
    if (f.streamId % 2 === 0 || f.streamId > this.lastOpened) {
      throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent ${what} on stream ${f.streamId}, which this client never opened`);
    }
  }

  /** A frame's payload without its padding (6.1, 6.2); `extra` bytes follow the pad length (HEADERS' priority). */
  private unpad(f: Frame, what: string, extra = 0): Buffer {
    let p = f.payload;
    let pad = 0;
    if (f.flags & Flag.PADDED) {
      if (p.length < 1) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, `the server sent a padded ${what} without its pad length`);
      pad = p[0]!;
      p = p.subarray(1);
    }
    if (extra > p.length || pad > p.length - extra) {
      throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent a ${what} frame whose padding (${pad}) is longer than its payload`);
    }
    return p.subarray(extra, p.length - pad);
  }

  private onData(f: Frame): void {
    this.checkStreamId(f, 'DATA');
    // Every DATA frame counts against the connection's window, its stream open or not (6.9).
    this.connRecvWindow -= f.payload.length;
    if (this.connRecvWindow < 0) throw new H2ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, 'the server sent more DATA than the connection window allows');
    this.connUnacked += f.payload.length;
    if (this.connUnacked >= CONNECTION_WINDOW / 2) {
      this.sendWindowUpdate(0, this.connUnacked);
      this.connRecvWindow += this.connUnacked;
      this.connUnacked = 0;
    }
    const body = this.unpad(f, 'DATA');
    const stream = this.streams.get(f.streamId);
    if (!stream || !stream.isRemoteOpen) return; // reset by this side, or ended: dropped (its window no longer matters)
    stream.recvWindow -= f.payload.length;
    if (stream.recvWindow < 0) {
      this.streamError(stream, ErrorCode.FLOW_CONTROL_ERROR, 'the server sent more DATA than the stream window allows');
      return;
    }
    // The padding is given back with the data it came with, when the reader takes that.
    if (f.payload.length > 0) stream.deliver({ kind: 'data', chunk: body, counted: f.payload.length });
    if (f.flags & Flag.END_STREAM) this.remoteEnd(stream);
  }

  private onHeaders(f: Frame): void {
    this.checkStreamId(f, 'HEADERS');
    const block = this.unpad(f, 'HEADERS', f.flags & Flag.PRIORITY ? 5 : 0);
    this.partial = { streamId: f.streamId, endStream: (f.flags & Flag.END_STREAM) !== 0, parts: [], size: 0 };
    this.addHeaderPart(block, (f.flags & Flag.END_HEADERS) !== 0);
  }

  private onContinuation(f: Frame): void {
    if (!this.partial || f.streamId !== this.partial.streamId) {
      throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent CONTINUATION on stream ${f.streamId} without a header block open there`);
    }
    this.addHeaderPart(f.payload, (f.flags & Flag.END_HEADERS) !== 0);
  }

  private addHeaderPart(part: Buffer, last: boolean): void {
    const p = this.partial!;
    p.size += part.length;
    if (p.size > MAX_HEADER_LIST) {
      throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent a header block larger than ${MAX_HEADER_LIST} bytes`);
    }
    // Copied: the frame's payload is a view into the read buffer.
    p.parts.push(Buffer.from(part));
    if (!last) return;
    this.partial = undefined;
    // Decoded whatever the stream's state: the dynamic table is the connection's (RFC 9113 4.3).
    const fields = this.decoder.decode(p.parts.length === 1 ? p.parts[0]! : Buffer.concat(p.parts));
    const stream = this.streams.get(p.streamId);
    if (!stream || !stream.isRemoteOpen) return;
    stream.deliver({ kind: 'headers', fields, end: p.endStream });
    if (p.endStream) this.remoteEnd(stream);
  }

  private remoteEnd(stream: H2Stream): void {
    stream.markRemoteEnded();
    stream.deliver({ kind: 'end' });
    this.forgetIfClosed(stream);
  }

  private onRstStream(f: Frame): void {
    this.checkStreamId(f, 'RST_STREAM');
    if (f.payload.length !== 4) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, `the server sent an RST_STREAM of ${f.payload.length} bytes (4 expected)`);
    const stream = this.streams.get(f.streamId);
    if (!stream) return;
    stream.drop();
    this.streams.delete(stream.id);
    this.updateRef();
    stream.deliver({ kind: 'reset', code: f.payload.readUInt32BE(0) });
    if (this.streams.size === 0 && (this.closing || this.goingAway)) this.shutdown();
  }

  private onSettings(f: Frame): void {
    if (f.streamId !== 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent SETTINGS on stream ${f.streamId}`);
    if (f.flags & Flag.ACK) {
      if (f.payload.length) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, 'the server sent a SETTINGS acknowledgement with a payload');
      return;
    }
    if (f.payload.length % 6) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, `the server sent a SETTINGS frame of ${f.payload.length} bytes (a multiple of 6 expected)`);
    for (let i = 0; i < f.payload.length; i += 6) {
      const id = f.payload.readUInt16BE(i);
      const value = f.payload.readUInt32BE(i + 2);
      if (id === Setting.HEADER_TABLE_SIZE) {
        // This encoder never inserts, so a smaller table needs only the update signal (RFC 7541 4.2).
        if (value < this.encoderTableSize) {
          this.encoderTableSize = value;
          this.owedTableSize = Math.min(this.owedTableSize ?? value, value);
        }
      } else if (id === Setting.ENABLE_PUSH) {
        if (value > 1) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent SETTINGS_ENABLE_PUSH ${value}`);
      } else if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new H2ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, `the server sent SETTINGS_INITIAL_WINDOW_SIZE ${value}, above 2^31-1`);
        // A new initial window moves every open stream's window by the difference (6.9.2).
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) throw new H2ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, `stream ${s.id}'s window went past 2^31-1`);
        }
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_FRAME_SIZE_LIMIT) {
          throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent SETTINGS_MAX_FRAME_SIZE ${value}, outside 2^14..2^24-1`);
        }
        this.peerMaxFrame = value;
      }
      // MAX_CONCURRENT_STREAMS: a server that holds fewer refuses a stream (REFUSED_STREAM, retried
      // as UNAVAILABLE); a CLI opens one to a few. MAX_HEADER_LIST_SIZE: requests are a few hundred bytes.
    }
    this.acknowledge(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
    for (const s of this.streams.values()) this.flush(s);
  }

  private onPing(f: Frame): void {
    if (f.streamId !== 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent PING on stream ${f.streamId}`);
    if (f.payload.length !== 8) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, `the server sent a PING of ${f.payload.length} bytes (8 expected)`);
    if (!(f.flags & Flag.ACK)) this.acknowledge(encodeFrame(FrameType.PING, Flag.ACK, 0, f.payload));
  }

  /** Writes an acknowledgement, unless the server has let too many pile up unread. */
  private acknowledge(frame: Buffer): void {
    if (this.socket.writableNeedDrain && ++this.backloggedAcks > MAX_BACKLOGGED_ACKS) {
      throw new H2ProtocolError(ErrorCode.ENHANCE_YOUR_CALM, `the server sent more than ${MAX_BACKLOGGED_ACKS} PING or SETTINGS frames without reading their acknowledgements`);
    }
    this.write(frame);
  }

  private onGoaway(f: Frame): void {
    if (f.streamId !== 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `the server sent GOAWAY on stream ${f.streamId}`);
    if (f.payload.length < 8) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, `the server sent a GOAWAY of ${f.payload.length} bytes (at least 8 expected)`);
    const lastId = f.payload.readUInt32BE(0) & 0x7fffffff;
    const code = f.payload.readUInt32BE(4);
    this.goingAway = true;
    // Streams above the last id were never processed: refused, safe to try again elsewhere (6.8).
    for (const s of [...this.streams.values()]) {
      if (s.id <= lastId) continue;
      s.drop();
      this.streams.delete(s.id);
      s.deliver({ kind: 'error', err: new H2SessionError('refused', `the server is going away (GOAWAY ${errorCodeName(code)}) and did not process the call`) });
    }
    this.updateRef();
    if (this.streams.size === 0) this.shutdown();
  }

  private onWindowUpdate(f: Frame): void {
    if (f.payload.length !== 4) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, `the server sent a WINDOW_UPDATE of ${f.payload.length} bytes (4 expected)`);
    const increment = f.payload.readUInt32BE(0) & 0x7fffffff;
    if (f.streamId === 0) {
      if (increment === 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, 'the server sent a connection WINDOW_UPDATE of 0');
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW) throw new H2ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, 'the server raised the connection window past 2^31-1');
      for (const s of this.streams.values()) if (s.hasOutgoing || s.endDue) this.flush(s);
      return;
    }
    this.checkStreamId(f, 'WINDOW_UPDATE');
    const stream = this.streams.get(f.streamId);
    if (!stream) return;
    if (increment === 0) return this.streamError(stream, ErrorCode.PROTOCOL_ERROR, 'the server sent a stream WINDOW_UPDATE of 0');
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) return this.streamError(stream, ErrorCode.FLOW_CONTROL_ERROR, 'the server raised a stream window past 2^31-1');
    this.flush(stream);
  }

  /** A stream error (5.4.2): RST_STREAM with the code, and the stream ends with the words. */
  private streamError(stream: H2Stream, code: number, message: string): void {
    stream.reset(code);
    stream.deliver({ kind: 'error', err: new H2SessionError('protocol', `HTTP/2 ${errorCodeName(code)}: ${message}`) });
  }

  /** A connection error (5.4.1): GOAWAY with the code, the socket closed, every stream ended with the words. */
  private protocolError(code: number, message: string): void {
    if (this.failure) return;
    this.failure = new H2SessionError('protocol', `HTTP/2 ${errorCodeName(code)}: ${message}`);
    if (!this.socket.destroyed) {
      this.socket.uncork();
      this.socket.end(encodeGoaway(this.lastOpened, code));
      // The peer is not trusted to close its side: the socket goes once the GOAWAY is out,
      // at once when the peer is not reading.
      if (this.socket.writableNeedDrain) this.socket.destroy();
      else this.socket.once('finish', () => this.socket.destroy());
    }
    this.failStreams(this.failure);
  }

  private onClose(): void {
    if (!this.failure) {
      const cause = this.lastError?.message;
      this.failure =
        this.connected && this.sawSettings
          ? new H2SessionError('dropped', `Connection dropped before the call ended${cause ? `: ${cause}` : ''}`)
          : new H2SessionError('connect', `No connection established. Last error: ${cause ?? 'the server closed the connection before its HTTP/2 settings'}`);
    }
    this.failStreams(this.failure);
    for (const w of this.drainWaiters.splice(0)) w();
  }

  private failStreams(err: H2SessionError): void {
    const open = [...this.streams.values()];
    this.streams.clear();
    this.updateRef();
    for (const s of open) {
      s.drop();
      s.deliver({ kind: 'error', err });
    }
  }
}
