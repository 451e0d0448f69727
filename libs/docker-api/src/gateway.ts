// DockerGateway: the Docker Engine API on BERTH_RUN/docker.sock (mode 0660,
// like every berth socket) and, optionally, TCP with TLS and client
// certificates (never plain TCP: whoever reaches the API is root on the
// host). Requests are routed with or without a /vX.Y prefix; attach and exec
// start arrive as HTTP upgrades (hijacked connections, streams.ts).
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { FailedPreconditionError, InvalidArgumentError } from '@berth/errors';
import { BERTH_VERSION, type BerthPaths, type Logger } from '@berth/kit';
import { Lifecycle } from './attach';
import type { Backends } from './backends';
import { registerBuild } from './build';
import { hijackAttach, registerContainers } from './containers';
import { Execs, hijackExecStart, registerExec } from './exec';
import { API_VERSION, DockerHttpError, Router, sendError, statusOf, stripVersion, type Req } from './http';
import { registerImages } from './images';
import { registerNetworks } from './networks';
import { registerSystem } from './system';

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA that signs the client certificates (Docker's --tlsverify). */
  ca: string;
}

export interface GatewayOptions {
  backends: Backends;
  paths: BerthPaths;
  log: Logger;
  /** Unix socket path (BERTH_RUN/docker.sock). */
  socket: string;
  /** Optional TCP "host:port" (port 0 = any); requires tls. */
  tcp?: string;
  tls?: TlsFiles;
}

const HEADERS = { 'Api-Version': API_VERSION, Server: `berth/${BERTH_VERSION} (linux)`, 'Docker-Experimental': 'false', Ostype: 'linux' };

async function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

function listen(server: Server, target: string | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => { server.off('error', reject); resolve(); };
    if (typeof target === 'string') server.listen(target, done);
    else server.listen(target.port, target.host, done);
  });
}

export class DockerGateway {
  readonly listeners: string[] = [];
  requests = 0;
  private open = new Set<Duplex>();
  private readonly servers: Server[] = [];
  private readonly router = new Router();
  readonly life: Lifecycle;
  private readonly execs: Execs;

  private constructor(private readonly o: GatewayOptions) {
    this.life = new Lifecycle(o.backends, o.log);
    this.execs = new Execs(o.backends);
    const deps = { b: o.backends, life: this.life };
    registerSystem(this.router, o.backends, o.paths);
    registerContainers(this.router, deps);
    registerExec(this.router, o.backends, this.execs);
    registerImages(this.router, o.backends);
    registerBuild(this.router, o.backends);
    registerNetworks(this.router, o.backends);
  }

  get connections(): number {
    return this.open.size;
  }

  static async start(o: GatewayOptions): Promise<DockerGateway> {
    if (o.tcp && !o.tls) {
      throw new InvalidArgumentError(
        'the Docker API is served over TCP only with mutual TLS: set BERTH_DOCKER_API_TLS_CERT, BERTH_DOCKER_API_TLS_KEY and BERTH_DOCKER_API_TLS_CA (or BERTH_TLS_*); clients then need DOCKER_TLS_VERIFY=1 and a certificate that CA signed',
        { field: 'BERTH_DOCKER_TCP' },
      );
    }
    const g = new DockerGateway(o);
    mkdirSync(dirname(o.socket), { recursive: true, mode: 0o755 });
    if (await socketInUse(o.socket)) throw new FailedPreconditionError(`${o.socket} is in use: is another berth docker-api service running? Stop it first (berth daemon down).`);
    rmSync(o.socket, { force: true });
    const unix = g.serve(createServer());
    try {
      await listen(unix, o.socket);
      chmodSync(o.socket, 0o660);
      g.listeners.push(`unix://${o.socket}`);
      if (o.tcp && o.tls) {
        const tls = g.serve(createTlsServer({
          cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key), ca: readFileSync(o.tls.ca),
          requestCert: true, rejectUnauthorized: true,
        }) as unknown as Server);
        const m = /^(.*):(\d+)$/.exec(o.tcp);
        if (!m) throw new InvalidArgumentError(`BERTH_DOCKER_TCP=${o.tcp}: expected host:port`, { field: 'BERTH_DOCKER_TCP' });
        await listen(tls, { host: m[1] || '0.0.0.0', port: Number(m[2]) });
        const addr = tls.address();
        g.listeners.push(`tcp://${m[1] || '0.0.0.0'}:${typeof addr === 'object' && addr ? addr.port : m[2]}`);
      }
    } catch (e) {
      await g.close();
      throw e;
    }
    return g;
  }

  private serve(server: Server): Server {
    // Streams (logs -f, events, attach, a long PUT archive) may last any time.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.on('connection', (s: Socket) => {
      this.open.add(s);
      s.once('close', () => this.open.delete(s));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    this.servers.push(server);
    return server;
  }

  private parse(req: IncomingMessage): { path: string; query: URLSearchParams } {
    const url = new URL(req.url ?? '/', 'http://docker');
    return { path: stripVersion(url.pathname), query: url.searchParams };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    for (const [k, v] of Object.entries(HEADERS)) res.setHeader(k, v);
    const method = req.method ?? 'GET';
    try {
      const { path, query } = this.parse(req);
      const m = this.router.match(method, path);
      if (m === undefined) {
        sendError(res, new DockerHttpError(404, 'page not found'));
        return;
      }
      if (m === 'method') {
        res.writeHead(405, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `method ${method} not allowed for ${path}` }) + '\n');
        return;
      }
      const r: Req = { raw: req, method, path, query, params: m.params };
      await m.handler(r, res);
    } catch (e) {
      const status = statusOf(e);
      if (status >= 500) this.o.log.warn({ method, url: req.url, err: (e as Error).message }, 'docker api request failed');
      else this.o.log.debug({ method, url: req.url, status, err: (e as Error).message }, 'docker api request refused');
      sendError(res, e);
    }
  }

  /** attach and exec start with "Upgrade: tcp"; anything else upgraded is answered as an error. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.requests++;
    socket.on('error', () => undefined);
    let hijacked = false;
    const markHijacked = socket.write.bind(socket);
    // The first write is the 101: after it, errors can only end the stream.
    (socket as { write: typeof socket.write }).write = ((...a: Parameters<typeof socket.write>) => {
      hijacked = true;
      (socket as { write: typeof socket.write }).write = markHijacked;
      return markHijacked(...a);
    }) as typeof socket.write;
    try {
      const { path, query } = this.parse(req);
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && (m = /^\/containers\/([^/]+)\/attach$/.exec(path))) {
        await hijackAttach({ b: this.o.backends, life: this.life }, decodeURIComponent(m[1]!), query, req, socket, head);
      } else if (req.method === 'POST' && (m = /^\/exec\/([^/]+)\/start$/.exec(path))) {
        await hijackExecStart(this.execs, decodeURIComponent(m[1]!), req, socket, head);
      } else {
        throw Object.assign(new Error(`${req.method} ${path} cannot be upgraded: only attach and exec start are hijacked`), { status: 400 });
      }
    } catch (e) {
      if (hijacked) {
        socket.end();
        return;
      }
      const status = (e as { status?: number }).status ?? statusOf(e);
      const body = JSON.stringify({ message: (e as Error).message }) + '\n';
      socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Error'}\r\nContent-Type: application/json\r\nApi-Version: ${API_VERSION}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
  }

  async close(): Promise<void> {
    this.life.close();
    for (const s of this.servers) s.close();
    for (const c of this.open) c.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => (s.listening ? s.once('close', () => r()) : r()))));
    rmSync(this.o.socket, { force: true });
  }
}
