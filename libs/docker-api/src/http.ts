// The HTTP side of the gateway: routing Docker API paths (any /vX.Y prefix,
// or none), reading bounded JSON bodies, query parameters as the Docker CLI
// and SDKs send them, and Docker's error document {"message": "..."} with
// the status code Docker uses for each berth error kind.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, InvalidArgumentError, errorCode } from '@berth/errors';

/** Docker API version advertised (moby api/docs/v1.41.yaml) and the oldest one accepted. */
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';

/** An error that already knows its Docker status (501 for what berth does not do). */
export class DockerHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** 501 with a message naming what is not supported. */
export const notImplemented = (what: string): DockerHttpError =>
  new DockerHttpError(501, `${what} is not supported by berth`);

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.NotFound]: 404,
  [ErrorCode.AlreadyExists]: 409,
  [ErrorCode.FailedPrecondition]: 409,
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.PermissionDenied]: 403,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.ResourceExhausted]: 500,
  [ErrorCode.DeadlineExceeded]: 504,
};

/** Docker's status code for a thrown error. */
export function statusOf(e: unknown): number {
  if (e instanceof DockerHttpError) return e.status;
  return STATUS_OF[errorCode(e)] ?? 500;
}

/** Strips "/v1.41" (any version) so routes match versioned and unversioned paths alike. */
export function stripVersion(path: string): string {
  return path.replace(/^\/v\d+(\.\d+)?(?=\/)/, '');
}

export interface Req {
  raw: IncomingMessage;
  method: string;
  /** Path without the version prefix, decoded per segment by the router. */
  path: string;
  query: URLSearchParams;
  /** Named groups of the route's pattern, URI-decoded. */
  params: Record<string, string>;
}

export type Handler = (req: Req, res: ServerResponse) => Promise<void>;

export interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** A route table: `route('GET', '/containers/(?<id>[^/]+)/json', h)`. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    this.routes.push({ method, pattern: new RegExp(`^${path}/?$`), handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) params[k] = decodeURIComponent(v ?? '');
      return { handler: r.handler, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}

/** Query helpers: Docker clients send booleans as 1/true/True, and filters as JSON. */
export function boolParam(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'False', 'FALSE', 'no'].includes(v);
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`invalid value for query parameter ${name}: "${v}" is not a number`, { field: name });
  return Math.trunc(n);
}

/**
 * Docker's filters parameter: {"label":["a=b"]} or the old
 * {"label":{"a=b":true}} form; both become key -> values.
 */
export function filtersParam(q: URLSearchParams, name = 'filters'): Record<string, string[]> {
  const v = q.get(name);
  if (!v) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError(`invalid filters: ${v} is not JSON`, { field: name });
  }
  const out: Record<string, string[]> = {};
  if (parsed === null || typeof parsed !== 'object') return out;
  for (const [k, val] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(val)) out[k] = val.map(String);
    else if (val && typeof val === 'object') out[k] = Object.entries(val as Record<string, unknown>).filter(([, on]) => on).map(([x]) => x);
    else if (typeof val === 'string') out[k] = [val];
  }
  return out;
}

/** Bodies larger than this are refused (create/update documents are a few KiB). */
const MAX_JSON_BODY = 4 * 1024 * 1024;

/** Reads the request body as JSON ({} when empty). */
export async function readJson<T = Record<string, unknown>>(req: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_JSON_BODY) throw new DockerHttpError(413, `request body larger than ${MAX_JSON_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new InvalidArgumentError(`invalid JSON in the request body: ${(e as Error).message}`, { field: 'body' });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Streams a tar that arrives as gRPC messages ({data}) as the reply, with
 * back-pressure. A failure before the first byte is thrown, so the caller
 * answers with Docker's error document (404...); after it the connection is
 * cut, the only way left to tell the client the tar is incomplete.
 */
export async function sendTarStream(res: ServerResponse, messages: AsyncIterable<{ data: Buffer }>): Promise<void> {
  let started = false;
  const start = () => {
    if (!started) res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    started = true;
  };
  try {
    for await (const m of messages) {
      start();
      if (!res.write(m.data)) await new Promise((r) => res.once('drain', r));
    }
  } catch (e) {
    if (!started) throw e;
    res.destroy();
    return;
  }
  start();
  res.end();
}

export function sendEmpty(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** Docker's error document; after the headers went out, the connection is ended instead. */
export function sendError(res: ServerResponse, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, statusOf(e), { message });
}
