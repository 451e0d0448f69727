// @berth/kit/client: the client half of the kit for short-lived processes
// (the `berth` CLI). Service addresses and typed clients only: importing the
// whole kit also loads the server host (grpc-health-check, reflection, pino,
// prom-client), about 80 ms a CLI start does not need.
export * from './config';
export { createClient, waitServing, type KnownKeys, type BerthClient, type CallOpts, type ClientOptions } from './client';
