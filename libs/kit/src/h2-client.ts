// gRPC over HTTP/2 for short-lived clients (the `berth` CLI) that talk to
// berth's unix sockets. Loading @grpc/grpc-js costs a CLI start about 45 ms
// (its channel, resolver, load-balancer and compression stack) and
// node:http2 another 16-18 ms (it pulls tls, crypto, http...), while one CLI
// command makes one to a few calls on one socket: the HTTP/2 here is berth's
// own, over node:net (h2-session.ts, h2-frames.ts, hpack.ts). The wire
// protocol is grpc/doc/PROTOCOL-HTTP2.md:
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
// stay on grpc-js; h2-client.test.ts runs the same calls through both
// transports against a real server.
import { Duplex } from 'node:stream';
import { compiledServiceDefinition, type CompiledMethod } from '@berth/proto';
import { fromStatus, GrpcCode, type StatusLike } from './status-codes';
import type { BerthClient, CallOpts, ClientOptions } from './client';
import { ErrorCode } from './h2-frames';
import { H2Session, type H2SessionError, type H2Stream } from './h2-session';
import type { HeaderField } from './hpack';

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
  constructor(private readonly headers: Headers) {}
  get(key: string): unknown[] {
    const v = this.headers[key.toLowerCase()];
    if (v === undefined) return [];
    const list = v.split(/,\s*/);
    return key.endsWith('-bin') ? list.map((x) => Buffer.from(x, 'base64')) : list;
  }
}

/** A received header list by name; a repeated name's values joined with ", " (RFC 9110 5.3). */
type Headers = Record<string, string>;

function headersOf(fields: readonly HeaderField[]): Headers {
  const out: Headers = Object.create(null) as Headers;
  for (const [name, value] of fields) out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  return out;
}

/** A status error as grpc-js's ServiceError carries it: code, details, metadata. */
class StatusError extends Error implements StatusLike {
  constructor(
    readonly code: number,
    readonly details: string,
    readonly metadata: StatusMetadata = new StatusMetadata({} as Headers),
  ) {
    super(`${code} ${Object.keys(GrpcCode).find((k) => GrpcCode[k as keyof typeof GrpcCode] === code) ?? code}: ${details}`);
  }
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2.md); a malformed one is shown as sent. */
function decodeMessage(raw: string | undefined): string {
  const s = raw ?? '';
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
      if (this.chunks[0]!.length < 5) this.chunks = [Buffer.concat(this.chunks)];
      const first = this.chunks[0]!;
      const length = first.readUInt32BE(1);
      if (first[0] !== 0) throw new StatusError(GrpcCode.INTERNAL, 'the server sent a compressed message; berth clients ask for none');
      if (length > MAX_RECEIVE) throw new StatusError(GrpcCode.RESOURCE_EXHAUSTED, `received message larger than max (${length} vs. ${MAX_RECEIVE})`);
      // Joined only once the whole message is here: a large message arrives in many chunks.
      if (this.size < 5 + length) return out;
      const head = this.chunks.length === 1 ? first : Buffer.concat(this.chunks);
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

/** One HTTP/2 connection to one address, opened on first use, reopened after it fails, closes or is told to go away. */
class Connection {
  private session?: H2Session;

  constructor(readonly address: string) {}

  request(fields: HeaderField[], events: Parameters<H2Session['request']>[1]): H2Stream {
    if (!this.session?.usable) this.session = new H2Session(this.address.slice('unix:'.length));
    return this.session.request(fields, events);
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

/** RST_STREAM code -> status, as grpc-js maps it (subchannel-call.ts). */
function statusForReset(code: number): StatusError {
  switch (code) {
    case ErrorCode.REFUSED_STREAM:
      return new StatusError(GrpcCode.UNAVAILABLE, 'Stream refused by server');
    case ErrorCode.CANCEL:
      return new StatusError(GrpcCode.CANCELLED, 'Call cancelled');
    case ErrorCode.ENHANCE_YOUR_CALM:
      return new StatusError(GrpcCode.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded');
    case ErrorCode.INADEQUATE_SECURITY:
      return new StatusError(GrpcCode.PERMISSION_DENIED, 'Protocol not secure enough');
    case ErrorCode.INTERNAL_ERROR:
      return new StatusError(GrpcCode.INTERNAL, `Received RST_STREAM with code ${code} (Internal server error)`);
    default:
      return new StatusError(GrpcCode.INTERNAL, `Received RST_STREAM with code ${code}`);
  }
}

/** A connection failure -> status: UNAVAILABLE in grpc-js's words (context.ts reads them), INTERNAL for a protocol error. */
function statusForSession(e: H2SessionError): StatusError {
  if (e.kind === 'protocol') return new StatusError(GrpcCode.INTERNAL, `the server broke the HTTP/2 protocol: ${e.message}`);
  return new StatusError(GrpcCode.UNAVAILABLE, e.message);
}

/**
 * One call on the wire: writes request messages, reads response messages,
 * ends with a status. A Node object-mode Duplex, as grpc-js's client streams
 * are (write/end, 'data'/'end'/'error', async iteration, cancel()).
 */
class H2Call extends Duplex {
  private readonly deframer = new Deframer();
  private readonly stream: H2Stream;
  private headers?: Headers;
  private trailers?: Headers;
  private finished = false;
  private timer?: NodeJS.Timeout;

  constructor(
    conn: Connection,
    private readonly def: CompiledMethod,
    metadata: Record<string, string>,
    deadline: number,
  ) {
    super({ objectMode: true });
    const fields: HeaderField[] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', def.path],
      [':authority', 'localhost'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['user-agent', 'berth-h2/1'],
    ];
    if (Number.isFinite(deadline)) {
      const left = deadline - Date.now();
      fields.push(['grpc-timeout', timeoutHeader(left)]);
      this.timer = setTimeout(() => this.fail(new StatusError(GrpcCode.DEADLINE_EXCEEDED, 'Deadline exceeded')), Math.max(0, left));
    }
    for (const [k, v] of Object.entries(metadata)) fields.push([k.toLowerCase(), v]);
    this.stream = conn.request(fields, {
      headers: (h, endStream) => {
        if (this.headers && !endStream) {
          this.fail(new StatusError(GrpcCode.INTERNAL, 'the server sent a second header block that does not end the call'));
        } else if (this.headers) {
          this.trailers = headersOf(h);
        } else {
          this.headers = headersOf(h);
        }
      },
      data: (chunk) => this.onData(chunk),
      end: () => this.settle(),
      reset: (code) => this.fail(statusForReset(code)),
      error: (e) => this.fail(statusForSession(e)),
    });
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    if (!this.headers) {
      this.fail(new StatusError(GrpcCode.INTERNAL, 'the server sent DATA before its headers'));
      return;
    }
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
      if (!this.push(decoded)) this.stream.pause();
    }
  }

  /** The call's end (END_STREAM): status from the trailers, or a trailers-only response's headers. */
  private settle(): void {
    if (this.finished) return;
    const headers = this.headers ?? ({} as Headers);
    const source = this.trailers ?? (headers['grpc-status'] !== undefined ? headers : undefined);
    if (!source) {
      const http = Number(headers[':status'] ?? 0);
      this.fail(
        http && http !== 200
          ? new StatusError(codeForHttp(http), `Received HTTP status code ${http}`)
          : new StatusError(GrpcCode.UNKNOWN, 'the server ended the call without a status (no grpc-status trailer)'),
      );
      return;
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
    this.stream.reset(ErrorCode.NO_ERROR);
  }

  private fail(e: StatusError): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.stream.reset(ErrorCode.CANCEL);
    this.destroy(fromStatus(e));
  }

  /** Ends the call on the client's side: the server sees it cancelled, the caller gets Cancelled. */
  cancel(): void {
    this.fail(new StatusError(GrpcCode.CANCELLED, 'Cancelled on client'));
  }

  override _read(): void {
    this.stream.resume();
  }

  override _write(message: unknown, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    let bytes: Buffer;
    try {
      bytes = this.def.requestSerialize(message);
    } catch (e) {
      cb(e as Error);
      return;
    }
    if (this.finished) {
      cb();
      return;
    }
    this.stream.write(frame(bytes), () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.stream.end();
    cb();
  }
}

/** Whether every address is one the HTTP/2 client serves (unix sockets; TCP needs grpc-js's TLS). */
export function h2Serves(addresses: readonly string[]): boolean {
  return addresses.length > 0 && addresses.every((a) => a.startsWith('unix:') || a.startsWith('/'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A typed client over berth's own HTTP/2 (h2-session.ts) for unix-socket addresses, behaving as
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
