// ServiceModule: how a service plugs into a process. A service lib exports
// one module; apps/<service> runs it alone and apps/berthd runs any subset in
// one process (libs/daemon). Either way each service gets its own socket,
// metrics endpoint, registry and logger, and reaches the others only through
// gRPC clients.
import type { Registry } from 'prom-client';
import type { BerthPaths, ServiceName } from './config';
import type { AsyncHandlers } from './handlers';
import type { Logger } from './logger';

/** Where a service sends events; @berth/events' EventPublisher is one. */
export interface EventSink {
  publish<T>(natsSubject: string, data: T, subject?: string): unknown;
}

export interface ServiceContext {
  paths: BerthPaths;
  log: Logger;
  /** The service's own registry: add collectors here. */
  registry: Registry;
  events: EventSink;
  /** Addresses of another service (BERTH_<NAME>_ADDR or its socket). */
  addressesOf(service: ServiceName): string[];
}

export interface StartedService {
  handlers: AsyncHandlers<unknown>;
  /** Handlers of further gRPC services served on the same socket, by fully-qualified name. */
  services?: Record<string, AsyncHandlers<unknown>>;
  /** Called after the gRPC server has drained: release resources. */
  close(): Promise<void>;
  /**
   * Where the host binds the gRPC socket, when not BERTH_RUN/<name>.sock: a
   * module that fronts its public socket itself (the CRI's, through
   * listenAuthorityProxy, for Go clients that send the socket path as
   * :authority) has the server listen here.
   */
  socket?: string;
}

export interface ServiceModule {
  name: ServiceName;
  /** Fully-qualified gRPC service name (berth.cgroups.v1.Cgroups). */
  grpcService: string;
  start(ctx: ServiceContext): Promise<StartedService>;
}
