// gRPC server reflection (grpc.reflection.v1 and v1alpha) with the
// descriptors built on the first request, not at start: answering needs
// every contract parsed (@grpc/proto-loader over protos/, ~5 MiB of heap
// and ~40 MiB of transient RSS per process), and most service processes
// never get a reflection call. The methods are served from the compiled
// contracts; @grpc/reflection answers each request once it is loaded. One
// instance per process (berthd hosts several services).
import type * as grpc from '@grpc/grpc-js';
import { grpcServiceDefinition, loadProtos } from '@berth/proto';

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
        stream.on('data', (message: unknown) => {
          stream.write(handler(field).handleServerReflectionRequest(message));
        });
      },
    });
  }
}
