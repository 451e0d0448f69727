// The server side of a SPDY/3.1 connection, as kubelet's httpstream/spdy (moby/spdystream) peers
// expect it. The client opens every stream (odd ids); we answer each accepted SYN_STREAM with a
// SYN_REPLY before any data on it (spdystream drops data on a stream it has no reply for), or with
// RST_STREAM to refuse it. A stream is a Duplex: its readable side is what the client sends (ended by
// its FIN), its writable side goes out as DATA frames (ended with FIN).
//
// Flow control: spdystream neither sends nor honours WINDOW_UPDATE, so neither do we; backpressure is
// TCP's: when a stream's readable buffer is full we stop reading the socket until it drains, and a
// write waits for the socket's drain.
//
// Frames are handled strictly in order (header blocks share one zlib stream per direction), in one
// async loop per connection.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import {
  ControlType,
  FLAG_FIN,
  FrameParser,
  GoAwayStatus,
  RstStatus,
  SPDY_VERSION,
  controlStreamId,
  decodeHeaderBlock,
  encodeDataFrame,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  type ControlFrame,
  type Frame,
  type HeaderBlock,
} from './frames';
import { HeaderDeflater, HeaderInflater } from './header-compression';

/** Largest DATA frame we send; small enough to interleave streams. */
const MAX_DATA_FRAME = 32 * 1024;

export interface SpdyConnectionOptions {
  /** Most streams open at once; more are refused with RST_STREAM REFUSED_STREAM. */
  maxStreams?: number;
  /** Close the connection after this long with no frame either way, ms (0: never). */
  idleTimeoutMs?: number;
}

/** One client-opened stream. `headers` are lower-case names. */
export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: HeaderBlock;
  private replied = false;
  private remoteDone = false;
  private paused = false;

  constructor(private readonly conn: SpdyServerConnection, id: number, headers: HeaderBlock, remoteFin: boolean) {
    super({ highWaterMark: 64 * 1024, allowHalfOpen: true });
    this.id = id;
    this.headers = headers;
    if (remoteFin) this.remoteEnd();
  }

  /** The first value of a header, or undefined. */
  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  /** Accepts the stream (SYN_REPLY). Data written before this waits for it. */
  reply(): void {
    if (this.replied) return;
    this.replied = true;
    this.conn.sendReply(this.id);
  }

  /** Refuses or abandons the stream (RST_STREAM); both halves are done. */
  reset(status: number = RstStatus.Cancel): void {
    this.conn.sendReset(this.id, status);
    this.conn.forget(this.id);
    this.remoteEnd();
    this.destroy();
  }

  /** @internal DATA from the client. Returns false when the reader is full (the connection pauses). */
  deliver(data: Buffer, fin: boolean): boolean {
    let more = true;
    if (data.length > 0 && !this.remoteDone) more = this.push(data);
    if (fin) this.remoteEnd();
    if (!more) this.paused = true;
    return more;
  }

  /** @internal The client's half is over (FIN, RST_STREAM or the connection closed). */
  remoteEnd(): void {
    if (this.remoteDone) return;
    this.remoteDone = true;
    this.push(null);
  }

  override _read(): void {
    if (this.paused) {
      this.paused = false;
      this.conn.resumeReading();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.reply();
    this.conn.sendData(this.id, chunk, false).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.reply();
    this.conn.sendData(this.id, Buffer.alloc(0), true).then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.conn.forget(this.id);
    cb(err);
  }
}

/**
 * The server half of one upgraded connection. Emits 'stream' (SpdyStream) for each SYN_STREAM that the
 * `accept` hook lets through, and 'close' once the socket is gone (every stream's readable side ends).
 */
export class SpdyServerConnection extends EventEmitter {
  private readonly parser = new FrameParser();
  private readonly inflater = new HeaderInflater();
  private readonly deflater = new HeaderDeflater();
  private readonly streams = new Map<number, SpdyStream>();
  private lastStreamId = 0;
  private goneAway = false;
  private closed = false;
  private readingPaused = false;
  private queue: Frame[] = [];
  private processing = false;
  private readonly maxStreams: number;

  constructor(private readonly socket: Socket, opts: SpdyConnectionOptions = {}) {
    super();
    this.maxStreams = opts.maxStreams ?? 256;
    socket.setNoDelay(true);
    if (opts.idleTimeoutMs) {
      socket.setTimeout(opts.idleTimeoutMs, () => this.destroy());
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onSocketGone());
    socket.on('close', () => this.onSocketGone());
    socket.on('error', () => this.onSocketGone());
  }

  /** True once the socket is gone. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends GOAWAY and closes the socket once what was written has gone out. */
  close(): void {
    if (this.closed) return;
    if (!this.goneAway) {
      this.goneAway = true;
      this.write(encodeGoAway(this.lastStreamId, GoAwayStatus.Ok));
    }
    this.socket.end();
    // A peer that never reads would hold the socket open: destroy it after a grace period.
    setTimeout(() => this.destroy(), 5000).unref();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.socket.destroy();
    this.onSocketGone();
  }

  /** @internal */
  sendReply(streamId: number): void {
    const block = this.deflater.compress(encodeHeaderBlock(new Map()));
    this.write(encodeSynReply(streamId, block));
  }

  /** @internal */
  sendReset(streamId: number, status: number): void {
    this.write(encodeRstStream(streamId, status));
  }

  /** @internal Writes DATA frames (split to MAX_DATA_FRAME), resolving once the socket took them. */
  async sendData(streamId: number, data: Buffer, fin: boolean): Promise<void> {
    if (this.closed) throw new Error('the SPDY connection is closed');
    let off = 0;
    do {
      const piece = data.subarray(off, off + MAX_DATA_FRAME);
      off += piece.length;
      const last = off >= data.length;
      if (!this.write(encodeDataFrame(streamId, piece, fin && last))) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.once('drain', done);
          this.socket.once('close', done);
        });
        if (this.closed) throw new Error('the SPDY connection closed while writing');
      }
    } while (off < data.length);
  }

  /** @internal */
  forget(streamId: number): void {
    this.streams.delete(streamId);
  }

  /** @internal A stream's reader drained: read the socket again. */
  resumeReading(): void {
    if (!this.readingPaused) return;
    for (const s of this.streams.values()) if (s.readableLength >= s.readableHighWaterMark) return;
    this.readingPaused = false;
    this.socket.resume();
  }

  private write(frame: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return true;
    return this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.parser.push(chunk);
    } catch {
      this.protocolError();
      return;
    }
    if (frames.length === 0) return;
    this.queue.push(...frames);
    if (!this.processing) void this.drainQueue();
  }

  private async drainQueue(): Promise<void> {
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift() as Frame;
        await this.handle(frame);
      }
    } catch {
      this.protocolError();
    } finally {
      this.processing = false;
    }
  }

  private async handle(frame: Frame): Promise<void> {
    if (frame.kind === 'data') {
      const stream = this.streams.get(frame.streamId);
      if (!stream) return; // a stream we reset or never had: spdystream ignores these too
      const fin = (frame.flags & FLAG_FIN) !== 0;
      if (!stream.deliver(frame.data, fin) && !this.readingPaused) {
        this.readingPaused = true;
        this.socket.pause();
      }
      return;
    }
    if (frame.version !== SPDY_VERSION) {
      this.protocolError();
      return;
    }
    switch (frame.type) {
      case ControlType.SynStream:
        await this.onSynStream(frame);
        return;
      case ControlType.RstStream: {
        const stream = this.streams.get(controlStreamId(frame));
        if (stream) {
          this.streams.delete(stream.id);
          stream.remoteEnd();
          stream.destroy();
        }
        return;
      }
      case ControlType.Headers: {
        // Header blocks must be inflated even when ignored: they advance the shared zlib stream.
        await this.inflater.decompress(frame.payload.subarray(4));
        if ((frame.flags & FLAG_FIN) !== 0) this.streams.get(controlStreamId(frame))?.remoteEnd();
        return;
      }
      case ControlType.Ping:
        // A client ping has an odd id: answer it with the same frame (spdystream does the same).
        if (frame.payload.length >= 4 && (frame.payload.readUInt32BE(0) & 1) === 1) this.write(encodePing(frame.payload.readUInt32BE(0)));
        return;
      case ControlType.GoAway:
        // The client opens no more streams; the open ones go on until it closes the socket.
        this.goneAway = true;
        return;
      case ControlType.SynReply:
      case ControlType.Settings:
      case ControlType.WindowUpdate:
      default:
        return;
    }
  }

  private async onSynStream(frame: ControlFrame): Promise<void> {
    if (frame.payload.length < 10) {
      this.protocolError();
      return;
    }
    const id = controlStreamId(frame);
    const headers = decodeHeaderBlock(await this.inflater.decompress(frame.payload.subarray(10)));
    if (id === 0 || id % 2 === 0 || id <= this.lastStreamId) {
      // Client streams are odd and increasing (spdystream resets the rest with PROTOCOL_ERROR).
      this.sendReset(id, RstStatus.ProtocolError);
      return;
    }
    this.lastStreamId = id;
    if (this.goneAway) {
      this.sendReset(id, RstStatus.RefusedStream);
      return;
    }
    if (this.streams.size >= this.maxStreams) {
      this.sendReset(id, RstStatus.RefusedStream);
      return;
    }
    const stream = new SpdyStream(this, id, headers, (frame.flags & FLAG_FIN) !== 0);
    this.streams.set(id, stream);
    this.emit('stream', stream);
  }

  private protocolError(): void {
    if (this.closed) return;
    if (!this.goneAway) {
      this.goneAway = true;
      this.write(encodeGoAway(this.lastStreamId, GoAwayStatus.ProtocolError));
    }
    this.destroy();
  }

  private onSocketGone(): void {
    if (this.closed) return;
    this.closed = true;
    this.inflater.close();
    for (const stream of this.streams.values()) {
      stream.remoteEnd();
      if (!stream.writableFinished) stream.destroy();
    }
    this.streams.clear();
    this.emit('close');
  }
}
