// @berth/kit: what every berth service and client shares — config paths,
// the gRPC server host (health, reflection, logs, metrics, graceful drain),
// the one error<->status mapping, and typed clients.
export * from './config';
export { toStatus, fromStatus, statusForCode, statusName } from './status';
export { createLogger, type Logger } from './logger';
export { createRegistry, createRpcMetrics, serveMetrics, type RpcMetrics } from './metrics';
export { wrapHandlers, send, writableAgain, type AsyncHandler, type AsyncHandlers, type CallContext } from './handlers';
export { ServiceHost, stopOnSignals, socketInUse, BERTH_VERSION, type ServiceHostOptions, type ServiceInfo } from './server';
export { createClient, waitServing, MAX_TIMEOUT_MS, type KnownKeys, type BerthClient, type CallOpts, type ClientOptions } from './client';
export { tempPaths, checkPrometheusText, type TempPaths } from './testing';
export { prepareStateDir, prepareStateRoot, closeDbFile, closeStateTree } from './state-dir';
export { Mutex } from './mutex';
export { tlsFiles, tcpInsecure, isTcpAddress, serverCredentials, channelCredentials, type TlsFiles } from './tls';
export type { ServiceModule, ServiceContext, StartedService, EventSink } from './module';
export { listenAuthorityProxy, AuthorityRewriter } from './uds-authority';
