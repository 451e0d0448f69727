// @berth/kit/client: the client half of the kit for short-lived processes
// (the `berth` CLI). Service addresses and typed clients only: importing the
// whole kit also loads the server host (health, reflection, pino,
// prom-client), about 80 ms a CLI start does not need.
//
// Clients of unix sockets speak gRPC over berth's own HTTP/2 on node:net
// (h2-client.ts, h2-session.ts): grpc-js is loaded only for what that
// transport does not serve (TCP addresses, which may need TLS; contracts
// parsed from BERTH_PROTOS) or when BERTH_CLIENT_TRANSPORT=grpc-js asks for it.
import { createClient as createGrpcJsClient, waitServing as grpcJsWaitServing, type BerthClient, type ClientOptions } from './client';
import { createH2Client, h2Serves } from './h2-client';

export * from './config';
export type { KnownKeys, BerthClient, CallOpts, ClientOptions } from './client';

/** A typed client: over HTTP/2 for unix sockets, else grpc-js (same shape, errors and retries). */
export function createClient<D, H>(service: string, addresses: string[], opts: ClientOptions = {}): BerthClient<D, H> {
  const h2 = process.env.BERTH_CLIENT_TRANSPORT !== 'grpc-js' && !process.env.BERTH_PROTOS && h2Serves(addresses);
  return h2 ? createH2Client<D, H>(service, addresses, opts) : createGrpcJsClient<D, H>(service, addresses, opts);
}

/** Waits until every address of a service answers Health SERVING (grpc-js: grpc.health.v1 is not in the compiled contracts). */
export function waitServing(addresses: string[], service = '', timeoutMs = 15_000): Promise<void> {
  return grpcJsWaitServing(addresses, service, timeoutMs);
}
