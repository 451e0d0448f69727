// ServiceHost: one berth service listening on its unix socket (mode 0660)
// and optionally TCP, serving grpc.health.v1 and server reflection next to
// its own service, with logs, RPC metrics and /metrics. berthd runs several
// hosts in one process; apps/<service> runs one. Shutdown stops accepting
// calls, lets in-flight ones finish up to a deadline, then cancels the rest.
import * as grpc from '@grpc/grpc-js';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import type { Registry } from 'prom-client';
import { grpcServiceDefinition } from '@berth/proto';
import { HealthService, type ServingStatus } from './health';
import { addReflection } from './reflection';
import { registerLocalService, unregisterLocalService, type LocalService } from './in-process';
import { BERTH_VERSION, berthPaths, infoPath, metricsListen, serviceEnvKey, serviceTcp, socketPath, type BerthPaths } from './config';
import { wrapHandlers, type AsyncHandlers } from './handlers';
import { serverCredentials, stripTcpScheme } from './tls';
import { createLogger, type Logger } from './logger';
import { createRegistry, createRpcMetrics, serveMetrics } from './metrics';

export { BERTH_VERSION };

export interface ServiceHostOptions<H> {
  /** Short name: engine, cgroups... (socket, metrics, logs). */
  name: string;
  /** Fully-qualified gRPC service, e.g. berth.cgroups.v1.Cgroups. */
  service: string;
  /** The service's async handlers (see handlers.ts). */
  handlers: AsyncHandlers<H>;
  /** More services on the same socket (images: Content and Transfer beside Images), by fully-qualified name. */
  services?: Record<string, AsyncHandlers<unknown>>;
  paths?: BerthPaths;
  /** Unix socket path; default <BERTH_RUN>/<name>.sock. */
  socket?: string;
  /** Extra TCP listen address host:port (default from BERTH_<NAME>_TCP). */
  tcp?: string;
  /** Metrics listen address; port 0 picks a free port. */
  metrics?: { host: string; port: number } | false;
  logger?: Logger;
  registry?: Registry;
}

export interface ServiceInfo {
  name: string;
  service: string;
  pid: number;
  socket: string;
  tcp?: string;
  metricsUrl?: string;
  version: string;
  startedAt: string;
}

/** Whether something answers on a unix socket (a running service): a host never takes over a live socket. */
export async function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class ServiceHost {
  readonly log: Logger;
  readonly registry: Registry;
  readonly health: HealthService;
  readonly info: ServiceInfo;
  private inflight = 0;
  /** Every gRPC service on this socket (the main one first). */
  served: string[] = [];
  /** The same services as this process's clients call them in place (in-process.ts). */
  hosted: LocalService[] = [];
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly server: grpc.Server,
    private readonly metricsServer: HttpServer | undefined,
    private readonly paths: BerthPaths,
    info: ServiceInfo,
    log: Logger,
    registry: Registry,
    health: HealthService,
  ) {
    this.info = info;
    this.log = log;
    this.registry = registry;
    this.health = health;
  }

  /** Calls being handled right now. */
  get inFlight(): number {
    return this.inflight;
  }

  static async start<H>(opts: ServiceHostOptions<H>): Promise<ServiceHost> {
    const paths = opts.paths ?? berthPaths();
    const log = opts.logger ?? createLogger(opts.name);
    const registry = opts.registry ?? createRegistry(opts.name);
    const rpc = createRpcMetrics(registry);
    const all: [string, unknown][] = [[opts.service, opts.handlers], ...Object.entries(opts.services ?? {})];

    const ref: { host?: ServiceHost } = {};
    let pendingDelta = 0;
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    const hosted: [string, LocalService][] = [];
    for (const [service, handlers] of all) {
      const definition = grpcServiceDefinition(service);
      const implementation = wrapHandlers(definition, handlers as Record<string, (...a: never[]) => Promise<unknown>>, {
          service,
          log,
          metrics: rpc,
          track: (d) => {
            if (ref.host) ref.host.inflight += d;
            else pendingDelta += d;
          },
        });
      server.addService(definition, implementation);
      hosted.push([service, { definition, implementation, active: new Set() }]);
    }
    const statusMap: Record<string, ServingStatus> = { '': 'NOT_SERVING', ...Object.fromEntries(all.map(([n]) => [n, 'NOT_SERVING' as const])) };
    const health = new HealthService(statusMap);
    health.addToServer(server);
    addReflection(server);

    // TCP is mutual TLS, or plaintext only when the operator said so (tls.ts);
    // settled before anything is bound, so a refusal leaves nothing behind.
    const tcpOpt = opts.tcp ?? serviceTcp(opts.name);
    let tcp: { address: string; creds: grpc.ServerCredentials } | undefined;
    if (tcpOpt) {
      const address = stripTcpScheme(tcpOpt);
      const { creds, tls } = serverCredentials(grpc, opts.name, address);
      if (!tls) log.warn({ tcp: address }, `${serviceEnvKey(opts.name, 'TCP_INSECURE')}: gRPC over TCP without TLS, open to anyone who reaches the port`);
      tcp = { address, creds };
    }

    const socket = opts.socket ?? socketPath(opts.name, paths);
    mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
    if (await socketInUse(socket)) {
      throw new Error(`${socket} is in use: is another berth ${opts.name} service running? Stop it first (berth daemon down).`);
    }
    rmSync(socket, { force: true });
    await bind(server, `unix:${socket}`);
    chmodSync(socket, 0o660);
    let tcpBound: string | undefined;
    if (tcp) {
      const port = await bind(server, tcp.address, tcp.creds);
      tcpBound = tcp.address.replace(/:\d+$/, `:${port}`);
    }

    let metricsServer: HttpServer | undefined;
    let metricsUrl: string | undefined;
    const m = opts.metrics === undefined ? metricsListen(opts.name) : opts.metrics;
    if (m) {
      const served = await serveMetrics(registry, m.host, m.port);
      metricsServer = served.server;
      metricsUrl = served.url;
    }

    const info: ServiceInfo = {
      name: opts.name,
      service: opts.service,
      pid: process.pid,
      socket,
      ...(tcpBound ? { tcp: tcpBound } : {}),
      ...(metricsUrl ? { metricsUrl } : {}),
      version: BERTH_VERSION,
      startedAt: new Date().toISOString(),
    };
    const host = new ServiceHost(server, metricsServer, paths, info, log, registry, health);
    host.inflight += pendingDelta;
    ref.host = host;
    host.served = all.map(([n]) => n);
    host.hosted = hosted.map(([, entry]) => entry);
    // Clients in this process reach these services in place (in-process.ts).
    for (const [service, entry] of hosted) registerLocalService(`unix:${socket}`, service, entry);
    writeInfo(infoPath(opts.name, paths), info);
    health.setStatus('', 'SERVING');
    for (const [n] of all) health.setStatus(n, 'SERVING');
    log.info({ socket, tcp: tcpBound, metrics: metricsUrl }, `${opts.name} serving`);
    return host;
  }

  /**
   * Graceful stop: health goes NOT_SERVING, no new calls are accepted,
   * in-flight calls get up to `deadlineMs` to finish, then are cancelled.
   */
  stop(deadlineMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      // First: calls from this process now go to the socket, which refuses them.
      for (const service of this.served) unregisterLocalService(`unix:${this.info.socket}`, service);
      this.health.setStatus('', 'NOT_SERVING');
      for (const n of this.served) this.health.setStatus(n, 'NOT_SERVING');
      this.log.info({ inFlight: this.inflight, deadlineMs }, `${this.info.name} draining`);
      const inPlace = () => this.hosted.reduce((n, h) => n + h.active.size, 0);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.log.warn({ inFlight: this.inflight }, 'drain deadline passed; cancelling remaining calls');
          this.server.forceShutdown();
          for (const h of this.hosted) for (const cancel of [...h.active]) cancel(grpc.status.CANCELLED, `${this.info.name} stopped before the call finished`);
          resolve();
        }, deadlineMs);
        timer.unref();
        this.server.tryShutdown(() => {
          // Calls made in place (in-process.ts) drain too.
          const settled = () => {
            if (inPlace() > 0) return void setTimeout(settled, 10).unref();
            clearTimeout(timer);
            resolve();
          };
          settled();
        });
      });
      if (this.metricsServer) {
        const ms = this.metricsServer;
        await new Promise<void>((resolve) => ms.close(() => resolve()));
        ms.closeAllConnections?.();
      }
      rmSync(this.info.socket, { force: true });
      rmSync(infoPath(this.info.name, this.paths), { force: true });
      this.log.info(`${this.info.name} stopped`);
    })();
    return this.stopping;
  }
}

function bind(server: grpc.Server, address: string, creds = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => {
      if (err) reject(new Error(`cannot listen on ${address}: ${err.message}`));
      else resolve(port);
    });
  });
}

function writeInfo(path: string, info: ServiceInfo): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n');
  renameSync(tmp, path);
}

/**
 * Stops the given hosts gracefully on SIGTERM/SIGINT, then exits. A second
 * signal exits at once.
 */
export function stopOnSignals(hosts: () => ServiceHost[], onStopped?: () => Promise<void>, deadlineMs = 10_000): void {
  let stopping = false;
  const handler = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    Promise.allSettled(hosts().map((h) => h.stop(deadlineMs)))
      .then(() => onStopped?.())
      .finally(() => process.exit(sig === 'SIGINT' ? 130 : 0));
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
