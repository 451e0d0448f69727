// kubelet's CRI streaming server (pkg/kubelet/cri/streaming/server.go), as containerd's CRI plugin runs
// it: the CRI service calls getExec/getAttach/getPortForward, which cache the request under a
// one-time token and answer http://host:port/{exec,attach,portforward}/<token>; the client (kubelet,
// crictl) then sends GET or POST to that URL with `Connection: Upgrade`, `Upgrade: SPDY/3.1` and its
// `X-Stream-Protocol-Version`s, in order of preference. We pick the first we speak, answer
// 101 Switching Protocols with the chosen version, and speak SPDY on the socket.
//
// Answers before the upgrade, as kubelet's: 404 for an unknown, used or expired token (or one for
// another kind of request), 400 for a missing protocol header or a request that is not an SPDY/3.1
// upgrade, 403 with X-Accepted-Stream-Protocol-Versions when no protocol is shared. WebSocket
// streaming (kubelet's other transport) is not served: crictl and kubelet speak SPDY.
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError, UnavailableError } from '@berth/errors';
import { SpdyServerConnection } from './spdy/connection';
import { TokenCache } from './token-cache';
import { REMOTECOMMAND_PROTOCOLS, serveRemoteCommand, type RemoteCommandProtocol } from './remotecommand';
import { PORTFORWARD_PROTOCOLS, servePortForward } from './portforward';
import type { AttachRequest, ExecRequest, PortForwardRequest, StreamingRuntime, StreamingUrl } from './runtime';
import type { CriStreamingServer, StreamingServerOptions } from './server-types';

type Cached =
  | { kind: 'exec'; req: ExecRequest }
  | { kind: 'attach'; req: AttachRequest }
  | { kind: 'portforward'; req: PortForwardRequest };

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_MAX_TOKENS = 1000;
const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30_000;
const DEFAULT_IDLE_TIMEOUT_MS = 4 * 60 * 60 * 1000;
/** An upgrade request's socket that sends nothing more is dropped after this. */
const HEADER_TIMEOUT_MS = 30_000;

/** Parses "host:port", "[v6]:port" or ":port"; throws InvalidArgumentError naming `address`. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new InvalidArgumentError(`streaming server address ${JSON.stringify(address)} is not host:port (e.g. 127.0.0.1:0 or [::1]:10010)`, {
      field: 'address',
    });
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

function validateStreams(req: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void {
  if (req.tty && req.stderr) {
    throw new InvalidArgumentError('tty and stderr cannot both be true: a terminal merges stderr into stdout', { field: 'stderr' });
  }
  if (!req.stdin && !req.stdout && !req.stderr) {
    throw new InvalidArgumentError('one of stdin, stdout, or stderr must be set', { field: 'stdout' });
  }
}

function validateContainerId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidArgumentError('container_id is required', { field: 'container_id' });
  }
}

/** Starts a streaming server listening on `options.address` (default 127.0.0.1:0). */
export async function createStreamingServer(options: StreamingServerOptions): Promise<CriStreamingServer> {
  const { host, port } = parseListenAddress(options.address ?? '127.0.0.1:0');
  const server = new StreamingServer(options);
  await server.listen(host, port);
  return server;
}

class StreamingServer implements CriStreamingServer {
  private readonly http: http.Server;
  private readonly tokens: TokenCache<Cached>;
  private readonly runtime: StreamingRuntime;
  private readonly streamCreationTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly closing = new AbortController();
  private readonly connections = new Set<SpdyServerConnection>();
  private readonly sockets = new Set<Socket>();
  private base = '';

  constructor(options: StreamingServerOptions) {
    this.runtime = options.runtime;
    this.tokens = new TokenCache<Cached>(options.tokenTtlMs ?? DEFAULT_TTL_MS, options.maxTokens ?? DEFAULT_MAX_TOKENS);
    this.streamCreationTimeoutMs = options.streamCreationTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS;
    this.idleTimeoutMs = options.streamIdleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.http = http.createServer({ requestTimeout: HEADER_TIMEOUT_MS, headersTimeout: HEADER_TIMEOUT_MS });
    this.http.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.http.on('request', (req, res) => this.onPlainRequest(req, res));
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  get baseUrl(): string {
    return this.base;
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new UnavailableError(`streaming server cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    const h = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    this.base = `http://${h}:${addr.port}`;
  }

  getExec(req: ExecRequest): StreamingUrl {
    validateContainerId(req.containerId);
    if (!Array.isArray(req.cmd) || req.cmd.length === 0) {
      throw new InvalidArgumentError('cmd is required: the command to run and its arguments', { field: 'cmd' });
    }
    validateStreams(req);
    const token = this.tokens.insert({ kind: 'exec', req: { ...req, cmd: [...req.cmd] } });
    return { url: `${this.base}/exec/${token}` };
  }

  getAttach(req: AttachRequest): StreamingUrl {
    validateContainerId(req.containerId);
    validateStreams(req);
    const token = this.tokens.insert({ kind: 'attach', req: { ...req } });
    return { url: `${this.base}/attach/${token}` };
  }

  getPortForward(req: PortForwardRequest): StreamingUrl {
    if (typeof req.podSandboxId !== 'string' || req.podSandboxId.length === 0) {
      throw new InvalidArgumentError('pod_sandbox_id is required', { field: 'pod_sandbox_id' });
    }
    for (const p of req.ports ?? []) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) {
        throw new InvalidArgumentError(`port ${p} is not a TCP port (1-65535)`, { field: 'port' });
      }
    }
    const token = this.tokens.insert({ kind: 'portforward', req: { podSandboxId: req.podSandboxId, ports: [...(req.ports ?? [])] } });
    return { url: `${this.base}/portforward/${token}` };
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.tokens.clear();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const conn of this.connections) conn.close();
    // Sockets still in HTTP (keep-alive, half-sent upgrades) and connections that do not close in time.
    for (const socket of this.sockets) if (!socket.destroyed) setTimeout(() => socket.destroy(), 1000).unref();
    this.http.closeIdleConnections();
    await closed;
  }

  private route(url: string | undefined): { kind: Cached['kind']; token: string } | undefined {
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)(?:\?.*)?$/.exec(url ?? '');
    if (!m) return undefined;
    return { kind: m[1] as Cached['kind'], token: m[2] as string };
  }

  private onPlainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const route = this.route(req.url);
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    // A request without Upgrade cannot stream; kubelet answers the same 400 after consuming the token.
    this.tokens.consume(route.token);
    res
      .writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' })
      .end('unable to upgrade: missing upgrade headers in request (Connection: Upgrade, Upgrade: SPDY/3.1)\n');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const reply = (status: number, text: string, headers: Record<string, string | string[]> = {}): void => {
      const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(text) + 1}`, 'Connection: close'];
      for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
      socket.end(`${lines.join('\r\n')}\r\n\r\n${text}\n`);
    };
    const route = this.route(req.url);
    if (!route) return reply(404, '404 page not found');
    if (req.method !== 'GET' && req.method !== 'POST') return reply(405, `method ${req.method} is not allowed: use GET or POST`);
    const cached = this.tokens.consume(route.token);
    if (!cached || cached.kind !== route.kind) return reply(404, '404 page not found');

    const serverProtocols: readonly string[] = cached.kind === 'portforward' ? PORTFORWARD_PROTOCOLS : REMOTECOMMAND_PROTOCOLS;
    const clientProtocols = (req.headersDistinct['x-stream-protocol-version'] ?? [])
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean);
    if (clientProtocols.length === 0) return reply(400, 'unable to upgrade: X-Stream-Protocol-Version is required');
    const protocol = clientProtocols.find((p) => serverProtocols.includes(p));
    if (!protocol) {
      return reply(
        403,
        `unable to upgrade: unable to negotiate protocol: client supports [${clientProtocols.join(' ')}], server accepts [${serverProtocols.join(' ')}]`,
        { 'X-Accepted-Stream-Protocol-Versions': [...serverProtocols] },
      );
    }
    const connection = (req.headers.connection ?? '').toLowerCase();
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (!connection.includes('upgrade') || !upgrade.includes('spdy/3.1')) {
      return reply(400, `unable to upgrade: missing upgrade headers in request (Upgrade: ${req.headers.upgrade ?? ''}; SPDY/3.1 is required)`);
    }

    socket.write(
      ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${protocol}`, '', ''].join('\r\n'),
    );
    const conn = new SpdyServerConnection(socket, { idleTimeoutMs: this.idleTimeoutMs });
    this.connections.add(conn);
    conn.once('close', () => this.connections.delete(conn));
    if (head.length > 0) socket.unshift(head);

    let served: Promise<void>;
    if (cached.kind === 'portforward') {
      const sandbox = cached.req.podSandboxId;
      served = servePortForward(
        conn,
        sandbox,
        (port, stream, signal) => this.runtime.portForward(sandbox, port, stream, signal),
        this.streamCreationTimeoutMs,
        this.closing.signal,
      );
    } else {
      const r = cached.req;
      const opts = { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, tty: r.tty };
      const session =
        cached.kind === 'exec'
          ? {
              run: async (io: Parameters<StreamingRuntime['exec']>[2]) => {
                try {
                  return { exitCode: await this.runtime.exec(cached.req.containerId, cached.req.cmd, io) };
                } catch (err) {
                  return { error: `error executing command in container: ${err instanceof Error ? err.message : String(err)}` };
                }
              },
            }
          : {
              run: async (io: Parameters<StreamingRuntime['attach']>[1]) => {
                try {
                  await this.runtime.attach(cached.req.containerId, io);
                  return { done: true as const };
                } catch (err) {
                  return { error: `error attaching to container: ${err instanceof Error ? err.message : String(err)}` };
                }
              },
            };
      served = serveRemoteCommand(conn, protocol as RemoteCommandProtocol, opts, session, this.streamCreationTimeoutMs, this.closing.signal);
    }
    served.catch(() => conn.destroy());
  }
}
