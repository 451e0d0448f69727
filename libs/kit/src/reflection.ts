// gRPC server reflection (grpc.reflection.v1 and v1alpha) with the
// descriptors built on the first request that needs them, not at start:
// they take every contract parsed (@grpc/proto-loader over protos/) and
// @grpc/reflection's index of it, ~5 MiB of heap, ~40 MiB of transient RSS
// and about a second of CPU per process, which most service processes never
// need. The methods are served from the compiled contracts; listServices
// (what health checkers and `grpcurl list` ask) is answered from them too;
// @grpc/reflection answers the descriptor requests once loaded. One instance
// per process (berthd hosts several services).
import type * as grpc from '@grpc/grpc-js';
import { compiledServiceNames, grpcServiceDefinition, loadProtos } from '@berth/proto';

interface ReflectionHandler {
  handleServerReflectionRequest(message: unknown): unknown;
}

const VERSIONS = [
  { service: 'grpc.reflection.v1.ServerReflection', field: 'v1' },
  { service: 'grpc.reflection.v1alpha.ServerReflection', field: 'v1Alpha' },
] as const;

let loaded: Record<(typeof VERSIONS)[number]['field'], ReflectionHandler> | undefined;

function handler(field: (typeof VERSIONS)[number]['field']): ReflectionHandler {
  if (!loaded) {
    // Required here: loading @grpc/reflection pulls protobufjs's parser in.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ReflectionService } = require('@grpc/reflection') as typeof import('@grpc/reflection');
    // Its per-version implementations are private fields; their request
    // handler is the public part of each (addToServer only wires it up).
    loaded = new ReflectionService(loadProtos().pkg) as unknown as typeof loaded;
  }
  return loaded![field];
}

/** Adds both reflection versions to a server. */
export function addReflection(server: grpc.Server): void {
  for (const { service, field } of VERSIONS) {
    server.addService(grpcServiceDefinition(service), {
      ServerReflectionInfo: (stream: grpc.ServerDuplexStream<unknown, unknown>) => {
        stream.on('end', () => stream.end());
        stream.on('data', (message: { host?: string; messageRequest?: string }) => {
          if (message.messageRequest === 'listServices') {
            // Every service of the contracts, as @grpc/reflection lists them.
            stream.write({ validHost: message.host, originalRequest: message, listServicesResponse: { service: compiledServiceNames().map((name) => ({ name })) } });
            return;
          }
          stream.write(handler(field).handleServerReflectionRequest(message));
        });
      },
    });
  }
}
