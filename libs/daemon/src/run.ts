// Running services in this process: what apps/<service> (one module) and
// apps/berthd (any subset) do. Each service gets its own ServiceHost (socket,
// health, reflection, metrics), logger, registry and event publisher.
import { EventPublisher, type NatsAuth } from '@berth/events';
import {
  ServiceHost, berthPaths, createLogger, createRegistry, prepareStateDir, serviceAddresses, stopOnSignals,
  type BerthPaths, type ServiceModule, type StartedService,
} from '@berth/kit';

export interface RunOptions {
  paths?: BerthPaths;
  /** NATS server URL(s); credentials in `natsAuth` (or in the URL). */
  natsUrl: string;
  natsAuth?: NatsAuth;
  /** Metrics listen override per service (tests use port 0). */
  metrics?: (name: string) => { host: string; port: number } | false | undefined;
  /** Install SIGTERM/SIGINT handlers that drain and exit. */
  handleSignals?: boolean;
  drainMs?: number;
}

export interface RunningStack {
  hosts: ServiceHost[];
  stop(): Promise<void>;
}

export async function runServices(modules: ServiceModule[], opts: RunOptions): Promise<RunningStack> {
  const paths = opts.paths ?? berthPaths();
  const running: { host: ServiceHost; started: StartedService; events: EventPublisher }[] = [];
  const stopAll = async () => {
    // Stop in reverse start order: the engine (a client of the others) first.
    for (const r of running.slice().reverse()) {
      await r.host.stop(opts.drainMs ?? 10_000);
      await r.started.close().catch((e: unknown) => r.host.log.error({ err: String(e) }, 'close failed'));
      await r.events.close();
    }
    running.length = 0;
  };
  try {
    for (const m of modules) {
      // Closed to other users before the module opens anything in it (kit's state-dir.ts).
      prepareStateDir(m.name, paths);
      const log = createLogger(m.name);
      const registry = createRegistry(m.name);
      const events = new EventPublisher({
        servers: opts.natsUrl,
        ...(opts.natsAuth ? { auth: opts.natsAuth } : {}),
        service: m.name,
        registry,
        onError: (e) => log.debug({ err: e.message }, 'nats not reachable; events are buffered'),
      });
      let started: StartedService;
      try {
        started = await m.start({ paths, log, registry, events, addressesOf: (s) => serviceAddresses(s, process.env, paths) });
      } catch (e) {
        await events.close(100);
        throw new Error(`${m.name} failed to start: ${(e as Error).message}`, { cause: e });
      }
      const metrics = opts.metrics?.(m.name);
      let host: ServiceHost;
      try {
        host = await ServiceHost.start({
          name: m.name, service: m.grpcService, handlers: started.handlers, ...(started.services ? { services: started.services } : {}), paths, logger: log, registry,
          ...(metrics !== undefined ? { metrics } : {}), ...(started.socket ? { socket: started.socket } : {}),
        });
      } catch (e) {
        await started.close().catch(() => undefined);
        await events.close(100);
        throw e;
      }
      running.push({ host, started, events });
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  const stack: RunningStack = { hosts: running.map((r) => r.host), stop: stopAll };
  if (opts.handleSignals) stopOnSignals(() => [], stopAll, opts.drainMs);
  return stack;
}
