// gRPC over Node's built-in HTTP/2, for short-lived clients (the `berth` CLI)
// that talk to berth's unix sockets. Loading @grpc/grpc-js costs a CLI start
// about 45 ms (its channel, resolver, load-balancer and compression stack)
// while one CLI command makes one to a few calls on one socket; node:http2
// is part of Node itself. The wire protocol is grpc/doc/PROTOCOL-HTTP2.md:
//
//   request   HEADERS  :method POST, :path /<service>/<Method>, content-type
//                      application/grpc, te trailers, grpc-timeout, metadata
//             DATA     length-prefixed messages (1 byte compressed flag = 0,
//                      4 bytes big-endian length, the protobuf bytes)
//   response  HEADERS  :status 200 (or, trailers-only, the status itself)
//             DATA     length-prefixed messages
//             TRAILERS grpc-status, grpc-message (percent-encoded), metadata
//
// The client built here has the same shape as client.ts's grpc-js one
// (BerthClient): promises for unary calls with the same deadline and
// UNAVAILABLE retry rules, and Node object streams for streaming calls that
// emit the same berth errors (status-codes.ts) and answer cancel(). Servers
// stay on grpc-js; compiled.test.ts-style conformance is in h2-client.test.ts,
// which runs the same calls through both transports against a real server.
import type * as http2 from 'node:http2';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import { compiledServiceDefinition, type CompiledMethod } from '@berth/proto';
import { fromStatus, GrpcCode, type StatusLike } from './status-codes';
import type { BerthClient, CallOpts, ClientOptions } from './client';

// node:http2 and node:net are loaded with the first call, not with this
// module: the CLI's startup snapshot (apps/cli/src/snapshot.ts) holds this
// module, and a snapshot cannot hold http2's state.
/* eslint-disable @typescript-eslint/no-require-imports */
let http2Module: typeof http2 | undefined;
const h2 = () => (http2Module ??= require('node:http2') as typeof http2);
const netConnect = (path: string) => (require('node:net') as typeof net).connect(path);
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * A request id for x-request-id (service logs carry it): unique per process
 * and call, without loading node:crypto for one UUID per CLI start.
 */
let calls = 0;
const requestId = () => `${process.pid.toString(36)}-${Date.now().toString(36)}-${(++calls).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** The longest deadline a call gets (client.ts's MAX_TIMEOUT_MS: one day). */
const MAX_TIMEOUT_MS = 24 * 3600_000;
/** Largest message accepted from a server (as client.ts configures grpc-js). */
const MAX_RECEIVE = 64 * 1024 * 1024;

/** Metadata of a status, read as grpc-js's Metadata#get reads it. */
class StatusMetadata {
  constructor(private readonly headers: http2.IncomingHttpHeaders) {}
  get(key: string): unknown[] {
    const v = this.headers[key.toLowerCase()];
    if (v === undefined) return [];
    const list = Array.isArray(v) ? v : String(v).split(/,\s*/);
    return key.endsWith('-bin') ? list.map((x) => Buffer.from(x, 'base64')) : list;
  }
}

/** A status error as grpc-js's ServiceError carries it: code, details, metadata. */
class StatusError extends Error implements StatusLike {
  constructor(
    readonly code: number,
    readonly details: string,
    readonly metadata: StatusMetadata = new StatusMetadata({}),
  ) {
    super(`${code} ${Object.keys(GrpcCode).find((k) => GrpcCode[k as keyof typeof GrpcCode] === code) ?? code}: ${details}`);
  }
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2.md); a malformed one is shown as sent. */
function decodeMessage(raw: string | string[] | undefined): string {
  const s = Array.isArray(raw) ? raw.join(',') : raw ?? '';
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** HTTP status -> gRPC code for responses that carry no grpc-status (grpc's http-grpc-status-mapping.md). */
function codeForHttp(status: number): number {
  if (status === 400) return GrpcCode.INTERNAL;
  if (status === 401) return GrpcCode.UNAUTHENTICATED;
  if (status === 403) return GrpcCode.PERMISSION_DENIED;
  if (status === 404) return GrpcCode.UNIMPLEMENTED;
  if (status === 429 || status === 502 || status === 503 || status === 504) return GrpcCode.UNAVAILABLE;
  return GrpcCode.UNKNOWN;
}

/** grpc-timeout: at most 8 digits and a unit. */
function timeoutHeader(ms: number): string {
  return ms < 1e8 ? `${Math.max(1, Math.ceil(ms))}m` : `${Math.ceil(ms / 1000)}S`;
}

function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** Splits the response body into messages as they arrive. */
class Deframer {
  private chunks: Buffer[] = [];
  private size = 0;

  /** Adds bytes; returns the whole messages now complete, or throws on a bad frame. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.size < 5) return out;
      const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [head];
      const length = head.readUInt32BE(1);
      if (head[0] !== 0) throw new StatusError(GrpcCode.INTERNAL, 'the server sent a compressed message; berth clients ask for none');
      if (length > MAX_RECEIVE) throw new StatusError(GrpcCode.RESOURCE_EXHAUSTED, `received message larger than max (${length} vs. ${MAX_RECEIVE})`);
      if (this.size < 5 + length) return out;
      out.push(head.subarray(5, 5 + length));
      const rest = head.subarray(5 + length);
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
    }
  }

  get pending(): boolean {
    return this.size > 0;
  }
}

/** One HTTP/2 connection to one address, opened on first use, reopened after it fails or closes. */
class Connection {
  private session?: http2.ClientHttp2Session;
  private active = 0;

  constructor(readonly address: string) {}

  private open(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const socketPath = this.address.slice('unix:'.length);
    const session = h2().connect('http://localhost', {
      createConnection: () => netConnect(socketPath),
      settings: { enablePush: false },
    });
    // Stream errors carry the cause; an unhandled session error must not crash the process.
    session.on('error', () => undefined);
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    this.session = session;
    return session;
  }

  /** Starts a request; the session keeps the process alive only while a call is in flight. */
  request(headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream {
    const session = this.open();
    const stream = session.request(headers, { endStream: false });
    if (this.active++ === 0) session.ref();
    stream.once('close', () => {
      if (--this.active === 0 && !session.destroyed) session.unref();
    });
    return stream;
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

/**
 * One call on the wire: writes request messages, reads response messages,
 * ends with a status. A Node object-mode Duplex, as grpc-js's client streams
 * are (write/end, 'data'/'end'/'error', async iteration, cancel()).
 */
class H2Call extends Duplex {
  private readonly deframer = new Deframer();
  private readonly h2: http2.ClientHttp2Stream;
  private headers: http2.IncomingHttpHeaders = {};
  private trailers?: http2.IncomingHttpHeaders;
  private finished = false;
  private timer?: NodeJS.Timeout;

  constructor(
    conn: Connection,
    private readonly def: CompiledMethod,
    metadata: Record<string, string>,
    deadline: number,
  ) {
    super({ objectMode: true });
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': def.path,
      ':authority': 'localhost',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'berth-h2/1',
      ...metadata,
    };
    if (Number.isFinite(deadline)) {
      const left = deadline - Date.now();
      headers['grpc-timeout'] = timeoutHeader(left);
      this.timer = setTimeout(() => this.fail(new StatusError(GrpcCode.DEADLINE_EXCEEDED, 'Deadline exceeded')), Math.max(0, left));
    }
    this.h2 = conn.request(headers);
    this.h2.on('response', (h) => {
      this.headers = h;
    });
    this.h2.on('trailers', (t) => {
      this.trailers = t;
    });
    this.h2.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = this.deframer.push(chunk);
      } catch (e) {
        this.fail(e as StatusError);
        return;
      }
      for (const m of messages) {
        let decoded: unknown;
        try {
          decoded = this.def.responseDeserialize(m);
        } catch (e) {
          this.fail(new StatusError(GrpcCode.INTERNAL, `cannot decode the response: ${(e as Error).message}`));
          return;
        }
        if (!this.push(decoded)) this.h2.pause();
      }
    });
    this.h2.on('end', () => this.settle());
    this.h2.on('close', () => this.settle());
    this.h2.on('error', (err: NodeJS.ErrnoException) => {
      // A connection that never came up, or went away: the address's error as grpc-js words it.
      // Streams pending on a session that failed to connect are cancelled with the socket's error as cause.
      const e = err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause instanceof Error ? (err.cause as NodeJS.ErrnoException) : err;
      const connecting = e.code === 'ECONNREFUSED' || e.code === 'ENOENT' || e.code === 'EACCES' || e.syscall === 'connect';
      this.fail(new StatusError(GrpcCode.UNAVAILABLE, connecting ? `No connection established. Last error: ${e.message}` : `Connection dropped: ${e.message}`));
    });
  }

  /** The call's end: status from the trailers (or a trailers-only response's headers). */
  private settle(): void {
    if (this.finished) return;
    const source = this.trailers ?? (this.headers['grpc-status'] !== undefined ? this.headers : undefined);
    if (!source) {
      const http = Number(this.headers[':status'] ?? 0);
      if (http && http !== 200) {
        this.fail(new StatusError(codeForHttp(http), `Received HTTP status code ${http}`));
      } else if (!this.h2.session || this.h2.session.destroyed || this.h2.session.closed) {
        // The connection went away under the call (a peer that hung up or died): as grpc-js words it.
        this.fail(new StatusError(GrpcCode.UNAVAILABLE, 'Connection dropped before the call ended'));
      } else if (this.h2.rstCode && this.h2.rstCode !== h2().constants.NGHTTP2_NO_ERROR) {
        this.fail(new StatusError(GrpcCode.UNAVAILABLE, `Stream refused by server (RST_STREAM code ${this.h2.rstCode})`));
      } else if (this.h2.destroyed || this.h2.closed) {
        this.fail(new StatusError(GrpcCode.UNAVAILABLE, 'Connection dropped before the call ended'));
      }
      return; // 'end' before trailers: 'close' settles
    }
    const code = Number(source['grpc-status']);
    if (code !== GrpcCode.OK) {
      this.fail(new StatusError(code, decodeMessage(source['grpc-message']), new StatusMetadata(source)));
      return;
    }
    if (this.deframer.pending) {
      this.fail(new StatusError(GrpcCode.INTERNAL, 'the response ended inside a message'));
      return;
    }
    this.finished = true;
    clearTimeout(this.timer);
    this.push(null);
    // The server has ended the call: a request side the caller left open is closed too (as grpc-js does).
    if (!this.h2.destroyed) this.h2.close();
  }

  private fail(e: StatusError): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    if (!this.h2.destroyed) this.h2.close(h2().constants.NGHTTP2_CANCEL);
    this.destroy(fromStatus(e));
  }

  /** Ends the call on the client's side: the server sees it cancelled, the caller gets Cancelled. */
  cancel(): void {
    this.fail(new StatusError(GrpcCode.CANCELLED, 'Cancelled on client'));
  }

  override _read(): void {
    if (this.h2.isPaused()) this.h2.resume();
  }

  override _write(message: unknown, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    let bytes: Buffer;
    try {
      bytes = this.def.requestSerialize(message);
    } catch (e) {
      cb(e as Error);
      return;
    }
    if (this.finished || this.h2.destroyed) {
      cb();
      return;
    }
    if (this.h2.write(frame(bytes))) cb();
    else this.h2.once('drain', () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.h2.destroyed) this.h2.end();
    cb();
  }
}

/** Whether every address is one the HTTP/2 client serves (unix sockets; TCP needs grpc-js's TLS). */
export function h2Serves(addresses: readonly string[]): boolean {
  return addresses.length > 0 && addresses.every((a) => a.startsWith('unix:') || a.startsWith('/'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A typed client over node:http2 for unix-socket addresses, behaving as
 * client.ts's createClient does: round-robin addresses, a deadline on every
 * call, UNAVAILABLE retried for idempotent methods, typed errors.
 */
export function createH2Client<D, H>(service: string, addresses: string[], opts: ClientOptions = {}): BerthClient<D, H> {
  if (!h2Serves(addresses)) throw new Error(`the HTTP/2 client serves unix sockets only, not ${addresses.join(',')}`);
  const definition = compiledServiceDefinition(service) as Record<string, CompiledMethod>;
  const conns = addresses.map((a) => new Connection(a.startsWith('/') ? `unix:${a}` : a));
  let next = 0;
  const pick = () => {
    const c = conns[next % conns.length]!;
    next = (next + 1) % conns.length;
    return c;
  };
  const defaultTimeout = Math.min(opts.timeoutMs ?? 30_000, MAX_TIMEOUT_MS);
  const maxAttempts = opts.maxAttempts ?? 5;
  const metadataOf = (o: CallOpts | undefined) => ({ 'x-request-id': o?.requestId ?? requestId(), ...(o?.metadata ?? {}) });
  const deadlineOf = (o: CallOpts | undefined) => Date.now() + Math.min(o?.timeoutMs ?? defaultTimeout, MAX_TIMEOUT_MS);
  const start = (def: CompiledMethod, o: CallOpts | undefined, deadline: number): H2Call => {
    const call = new H2Call(pick(), def, metadataOf(o), deadline);
    if (o?.signal) {
      if (o.signal.aborted) call.cancel();
      else o.signal.addEventListener('abort', () => call.cancel(), { once: true });
    }
    return call;
  };
  /** One request message in, one response out. */
  const unaryOnce = (def: CompiledMethod, req: unknown, o: CallOpts | undefined, deadline: number) =>
    new Promise<unknown>((resolve, reject) => {
      const call = start(def, o, deadline);
      let response: unknown;
      let count = 0;
      call.on('data', (m: unknown) => {
        response = m;
        count++;
      });
      call.on('error', reject);
      call.on('end', () => {
        if (count === 1) resolve(response);
        else reject(fromStatus(new StatusError(GrpcCode.INTERNAL, `expected one response message, got ${count}`)));
      });
      call.end(req);
    });

  const api: Record<string, unknown> = {
    addresses: conns.map((c) => c.address),
    close: () => conns.forEach((c) => c.close()),
  };
  for (const [method, def] of Object.entries(definition)) {
    const level = def.options?.idempotency_level;
    const idempotent = level === 'IDEMPOTENT' || level === 'NO_SIDE_EFFECTS';
    if (!def.requestStream && !def.responseStream) {
      api[method] = async (req: unknown, o?: CallOpts) => {
        const deadline = deadlineOf(o);
        for (let attempt = 1; ; attempt++) {
          try {
            return await unaryOnce(def, req, o, deadline);
          } catch (e) {
            const unavailable = (e as { code?: string }).code === 'Unavailable';
            if (!(idempotent && unavailable && attempt < maxAttempts && Date.now() < deadline)) throw e;
            await sleep(Math.min(50 * 2 ** attempt, 1000, Math.max(0, deadline - Date.now())));
          }
        }
      };
    } else if (def.responseStream && !def.requestStream) {
      api[method] = (req: unknown, o?: CallOpts) => {
        const call = start(def, o, o?.timeoutMs ? deadlineOf(o) : Infinity);
        call.end(req);
        return call;
      };
    } else if (def.requestStream && def.responseStream) {
      api[method] = (o?: CallOpts) => start(def, o, o?.timeoutMs ? deadlineOf(o) : Infinity);
    } else {
      api[method] = (o?: CallOpts) => {
        const stream = start(def, o, deadlineOf(o));
        const response = new Promise((resolve, reject) => {
          let last: unknown;
          stream.on('data', (m: unknown) => {
            last = m;
          });
          stream.on('error', reject);
          stream.on('end', () => resolve(last));
        });
        // The caller awaits `response`; an error it never awaits is still reported there, not as unhandled.
        response.catch(() => undefined);
        return { stream, response };
      };
    }
  }
  return api as BerthClient<D, H>;
}
