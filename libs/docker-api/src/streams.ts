// Docker's stream transports for attach, exec start and logs.
//   hijacked   the client sent "Connection: Upgrade, Upgrade: tcp": we answer
//              101 UPGRADED and the socket carries raw bytes both ways
//              (stdin in, output out). The request's own body (exec start's
//              JSON) comes first on the socket and is never stdin.
//   plain      a 200 whose body is the output stream (no stdin).
// Output without a TTY is multiplexed: each chunk is an 8-byte header
// [stream, 0, 0, 0, size (big endian uint32)] then the bytes; stream 1 =
// stdout, 2 = stderr. With a TTY it is the raw terminal output.
// Half-close: a client that ends its sending side (stdin EOF) still reads
// the output to the end; only the process's exit (or the client closing
// the whole connection) ends the stream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export type StreamName = 'stdout' | 'stderr';

/** One frame of Docker's multiplexed stream. */
export function muxFrame(stream: StreamName | 'stdin', data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream === 'stdin' ? 0 : stream === 'stdout' ? 1 : 2;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}

/** Where a process's output goes and where its stdin comes from. */
export interface StreamConn {
  /** Writes output (framed unless the stream is raw). */
  output(stream: StreamName, data: Buffer): void;
  /** Ends the connection after everything written. */
  end(): void;
  /** Stdin chunks (hijacked only) and the client's half-close. */
  onInput(data: (b: Buffer) => void, end: () => void): void;
  /** The client went away (connection closed). */
  onClose(cb: () => void): void;
  readonly closed: boolean;
}

const CLOSED = Symbol('closed');

/**
 * Takes over an upgraded socket: skips (and returns) the request body, then
 * answers 101. `head` is what Node read past the headers.
 */
export async function hijack(
  req: IncomingMessage, socket: Duplex, head: Buffer, raw: boolean, contentType?: string,
): Promise<{ conn: StreamConn; body: Buffer }> {
  const length = Number(req.headers['content-length'] ?? 0) || 0;
  let pending = head;
  // The body is read off the socket before anything else, so it never reaches stdin.
  while (pending.length < length) {
    const chunk = await new Promise<Buffer | typeof CLOSED>((resolve) => {
      const onData = (d: Buffer) => { cleanup(); resolve(d); };
      const onEnd = () => { cleanup(); resolve(CLOSED); };
      const cleanup = () => { socket.off('data', onData); socket.off('end', onEnd); socket.off('close', onEnd); socket.pause(); };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.resume();
    });
    if (chunk === CLOSED) break;
    pending = Buffer.concat([pending, chunk]);
  }
  const body = pending.subarray(0, length);
  const rest = pending.subarray(length);
  const ct = contentType ?? (raw ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
  socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${ct}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  return { conn: socketConn(socket, raw, rest), body };
}

function socketConn(socket: Duplex, raw: boolean, first: Buffer): StreamConn {
  let closed = false;
  const closeCbs: (() => void)[] = [];
  socket.on('error', () => undefined);
  socket.once('close', () => {
    closed = true;
    for (const cb of closeCbs.splice(0)) cb();
  });
  return {
    output(stream, data) {
      if (closed || !data.length) return;
      socket.write(raw ? data : muxFrame(stream, data));
    },
    end() {
      if (closed) return;
      socket.end();
      // A client that never closes its side would hold the socket open: it has everything.
      setTimeout(() => socket.destroy(), 2000).unref();
    },
    onInput(data, end) {
      if (first.length) data(first);
      socket.on('data', data);
      socket.once('end', end);
      socket.resume();
    },
    onClose(cb) {
      if (closed) cb();
      else closeCbs.push(cb);
    },
    get closed() {
      return closed;
    },
  };
}

/** A streaming 200 (attach without upgrade, logs, exec start without upgrade). */
export function responseConn(res: ServerResponse, raw: boolean, contentType?: string): StreamConn {
  let closed = false;
  const closeCbs: (() => void)[] = [];
  res.writeHead(200, { 'Content-Type': contentType ?? (raw ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream') });
  res.flushHeaders();
  res.on('close', () => {
    closed = true;
    for (const cb of closeCbs.splice(0)) cb();
  });
  return {
    output(stream, data) {
      if (closed || !data.length) return;
      res.write(raw ? data : muxFrame(stream, data));
    },
    end() {
      if (!closed) res.end();
    },
    onInput() { /* no stdin over a plain response */ },
    onClose(cb) {
      if (closed) cb();
      else closeCbs.push(cb);
    },
    get closed() {
      return closed;
    },
  };
}
