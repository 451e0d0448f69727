// Prometheus: each service host owns a prom-client Registry with process
// metrics and the RPC metrics go-grpc-prometheus defines, served over HTTP on
// /metrics. Services add their own collectors (cAdvisor series...) to it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface RpcMetrics {
  started: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  handled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  msgReceived: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  msgSent: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  seconds: Histogram<'grpc_type' | 'grpc_service' | 'grpc_method'>;
}

/** A registry with process metrics, labelled with the service name. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ berth_service: service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** The server-side RPC metrics, named exactly as go-grpc-prometheus names them. */
export function createRpcMetrics(registry: Registry): RpcMetrics {
  const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
  return {
    started: new Counter({ name: 'grpc_server_started_total', help: 'Total number of RPCs started on the server.', labelNames, registers: [registry] }),
    handled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
      registers: [registry],
    }),
    msgReceived: new Counter({ name: 'grpc_server_msg_received_total', help: 'Total number of RPC stream messages received on the server.', labelNames, registers: [registry] }),
    msgSent: new Counter({ name: 'grpc_server_msg_sent_total', help: 'Total number of gRPC stream messages sent by the server.', labelNames, registers: [registry] }),
    seconds: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
      labelNames,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

/** Serves GET /metrics for a registry; resolves with the bound address. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found: berth serves only /metrics here\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return { server, url: `http://${shownHost}:${addr.port}/metrics` };
}
