// The docker-api service module: the Docker Engine API gateway as a berth
// service. Its gRPC socket (BERTH_RUN/docker-api.sock) carries health and
// Status like every service; Docker clients talk to BERTH_RUN/docker.sock.
//   BERTH_DOCKER_API_SOCKET     the Docker socket (default BERTH_RUN/docker.sock)
//   BERTH_DOCKER_API_TCP        optional host:port, served only with TLS:
//   BERTH_DOCKER_API_TLS_CERT / _KEY / _CA  server certificate, key, and the CA of client certificates
import { join } from 'node:path';
import type { AsyncHandlers, ServiceModule } from '@berth/kit';
import type { dockerapiV1 } from '@berth/proto';
import { createBackends } from './backends';
import { DockerGateway, type TlsFiles } from './gateway';
import { API_VERSION, MIN_API_VERSION } from './http';

function tlsFromEnv(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const cert = env['BERTH_DOCKER_API_TLS_CERT'];
  const key = env['BERTH_DOCKER_API_TLS_KEY'];
  const ca = env['BERTH_DOCKER_API_TLS_CA'];
  return cert && key && ca ? { cert, key, ca } : undefined;
}

export const dockerApiModule: ServiceModule = {
  name: 'docker-api',
  grpcService: 'berth.dockerapi.v1.DockerApi',
  async start(ctx) {
    const env = process.env;
    const backends = createBackends((s) => ctx.addressesOf(s));
    const tcp = env['BERTH_DOCKER_API_TCP'] || undefined;
    const tls = tlsFromEnv(env);
    let gw: DockerGateway;
    try {
      gw = await DockerGateway.start({
        backends, paths: ctx.paths, log: ctx.log, socket: env['BERTH_DOCKER_API_SOCKET'] || join(ctx.paths.run, 'docker.sock'),
        ...(tcp ? { tcp } : {}), ...(tls ? { tls } : {}),
      });
    } catch (e) {
      backends.close();
      throw e;
    }
    // AutoRemove containers that exited while no gateway ran; the engine may still be starting (split layout).
    let closed = false;
    void (async () => {
      for (let delay = 200; !closed; delay = Math.min(delay * 2, 5000)) {
        try {
          await gw.life.adoptAutoRemove();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
    })();
    const handlers: AsyncHandlers<dockerapiV1.DockerApiHandlers> = {
      Status: async () => ({
        listeners: gw.listeners, apiVersion: API_VERSION, minApiVersion: MIN_API_VERSION, connections: gw.connections, requests: gw.requests,
      }),
    };
    return {
      handlers,
      close: async () => {
        closed = true;
        await gw.close();
        backends.close();
      },
    };
  },
};
