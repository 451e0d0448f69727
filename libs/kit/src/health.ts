// grpc.health.v1 (Check, Watch, List) served from the compiled contracts,
// with grpc-health-check's semantics: Check answers NOT_FOUND for a service
// it does not know, Watch sends the current status (SERVICE_UNKNOWN when
// unknown) and then every change until the caller cancels, List names every
// service. Serving it from protos/ rather than grpc-health-check keeps
// @grpc/proto-loader and protobufjs's parser out of every service process
// (they parse health.proto when required): see docs/design/memory.md.
import * as grpc from '@grpc/grpc-js';
import { grpcServiceDefinition } from '@berth/proto';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface StatusReply { status: ServingStatus }

/** The most services List answers with, as grpc-health-check (RESOURCE_EXHAUSTED past it). */
const LIST_LIMIT = 100;

export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(s: ServingStatus) => void>>();

  constructor(initial: Record<string, ServingStatus> = {}) {
    for (const [name, status] of Object.entries(initial)) this.statuses.set(name, status);
  }

  /** Sets a service's status ('' is the server as a whole) and tells its watchers. */
  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const notify of this.watchers.get(service) ?? []) notify(status);
  }

  /** The status of a service, or undefined when it is not known. */
  status(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  addToServer(server: grpc.Server): void {
    server.addService(grpcServiceDefinition('grpc.health.v1.Health'), {
      Check: (call: grpc.ServerUnaryCall<{ service?: string }, StatusReply>, callback: grpc.sendUnaryData<StatusReply>) => {
        const name = call.request.service ?? '';
        const status = this.statuses.get(name);
        if (status) callback(null, { status });
        else callback({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${name}` }, null);
      },
      Watch: (call: grpc.ServerWritableStream<{ service?: string }, StatusReply>) => {
        const name = call.request.service ?? '';
        const notify = (status: ServingStatus): void => {
          call.write({ status });
        };
        let set = this.watchers.get(name);
        if (!set) this.watchers.set(name, (set = new Set()));
        set.add(notify);
        call.on('cancelled', () => {
          set.delete(notify);
          if (set.size === 0 && this.watchers.get(name) === set) this.watchers.delete(name);
        });
        call.write({ status: this.statuses.get(name) ?? 'SERVICE_UNKNOWN' });
      },
      List: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<{ statuses: Record<string, StatusReply> }>) => {
        if (this.statuses.size > LIST_LIMIT) {
          callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Too many services to list.' }, null);
          return;
        }
        const statuses: Record<string, StatusReply> = {};
        for (const [name, status] of this.statuses) statuses[name] = { status };
        callback(null, { statuses });
      },
    });
  }
}
