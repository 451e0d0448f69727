// The docker-api service module: the Docker Engine API gateway as a berth
// service. Its gRPC socket (BERTH_RUN/docker-api.sock) carries health and
// Status like every service; Docker clients talk to BERTH_RUN/docker.sock.
//   BERTH_DOCKER_API_SOCKET  the Docker socket (default BERTH_RUN/docker.sock)
//   BERTH_DOCKER_TCP         optional host:port for Docker clients (DOCKER_HOST=tcp://..., DOCKER_TLS_VERIFY=1),
//                            served only with mutual TLS, from the files the gRPC services use
//                            (BERTH_DOCKER_API_TLS_CERT/_KEY/_CA, else BERTH_TLS_*: @berth/kit tlsFiles).
//                            BERTH_DOCKER_API_TCP is the gateway's gRPC TCP listener, as for every service.
import { join } from 'node:path';
import { tlsFiles, type AsyncHandlers, type ServiceModule } from '@berth/kit';
import type { dockerapiV1 } from '@berth/proto';
import { createBackends } from './backends';
import { DockerGateway } from './gateway';
import { API_VERSION, MIN_API_VERSION } from './http';

export const dockerApiModule: ServiceModule = {
  name: 'docker-api',
  grpcService: 'berth.dockerapi.v1.DockerApi',
  async start(ctx) {
    const env = process.env;
    const backends = createBackends((s) => ctx.addressesOf(s));
    const tcp = env['BERTH_DOCKER_TCP'] || undefined;
    const tls = tcp ? tlsFiles('docker-api', env) : undefined;
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
