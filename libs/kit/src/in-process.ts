// In-process dispatch of unary calls between services hosted by one process.
//
// berthd hosts every service in one Node process, and the engine's run path
// makes about twenty unary calls to the others: over the unix socket each
// costs an HTTP/2 round trip through the kernel and several event-loop turns.
// When a client's address is the socket of a service this very process
// hosts, the call goes to that service's handlers directly, keeping the
// contract whole:
//   - the same wrapped handlers the socket serves (wrapHandlers: metrics,
//     logs, request ids, drain tracking, the error -> status mapping);
//   - the same messages: the request is serialized and parsed back with the
//     method's own codecs before the handler sees it, the response likewise
//     on the way back, so defaults, enum names, dropped unknown fields and
//     64-bit conversions are exactly what the wire gives;
//   - the same errors: a failure comes back as the status the socket would
//     carry and is turned into the typed error by the same fromStatus;
//   - the same deadlines and cancellation (the handler's signal aborts).
// Streaming calls still use the socket. A host that stops unregisters first,
// so later calls fall back to the socket and see it refuse them; calls in
// flight are drained with the socket's and cancelled at the same deadline.
// BERTH_IN_PROCESS=0 turns this off (every call over the socket).
import type * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { fromStatus } from './status-codes';

/** A service this process hosts: its method definitions and wrapped handlers. */
export interface LocalService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** The calls in flight, each with its cancel: the host's drain waits for them and cancels the rest at its deadline. */
  active: Set<(code: number, details: string) => void>;
}

const local = new Map<string, LocalService>();
const key = (address: string, service: string) => `${address}\n${service}`;

/** Registers a hosted service under its socket address ("unix:/run/berth/x.sock"). */
export function registerLocalService(address: string, service: string, entry: LocalService): void {
  local.set(key(address, service), entry);
}

/** Unregisters a hosted service (its host is stopping). */
export function unregisterLocalService(address: string, service: string): void {
  local.delete(key(address, service));
}

/** The hosted service behind an address, if this process serves it and dispatch is on. */
export function localService(address: string, service: string, env: NodeJS.ProcessEnv = process.env): LocalService | undefined {
  if (local.size === 0 || env.BERTH_IN_PROCESS === '0') return undefined;
  return local.get(key(address, service));
}

/** A status as grpc-js's client reports it (message "<code> <NAME>: <details>"). */
function statusError(grpcLib: typeof grpc, code: number, details: string, metadata: grpc.Metadata = new grpcLib.Metadata()): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpcLib.status[code] ?? 'UNKNOWN'}: ${details}`), { code, details, metadata });
}

/**
 * Calls a unary method of a hosted service: the request and the response
 * each make the round trip through the method's codecs, the handler runs as
 * the socket would run it, and a failure rejects with the typed error.
 */
export function callLocalUnary(
  grpcLib: typeof grpc,
  svc: LocalService,
  method: string,
  request: unknown,
  metadata: grpc.Metadata,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const def = svc.definition[method] as grpc.MethodDefinition<unknown, unknown> | undefined;
  const handler = svc.implementation[method] as grpc.handleUnaryCall<unknown, unknown> | undefined;
  if (!def || !handler) return Promise.reject(fromStatus(statusError(grpcLib, grpcLib.status.UNIMPLEMENTED, `${method} is not served here`)));
  return new Promise((resolve, reject) => {
    let done = false;
    const call = new EventEmitter() as EventEmitter & Record<string, unknown>;
    const settle = (err: grpc.ServiceError | null, value?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      svc.active.delete(cancel);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(fromStatus(err));
      else resolve(value);
    };
    const cancel = (code: number, details: string): void => {
      if (done) return;
      call.cancelled = true;
      call.emit('cancelled', details);
      settle(statusError(grpcLib, code, details));
    };
    const onAbort = (): void => cancel(grpcLib.status.CANCELLED, 'Cancelled on client');
    const timer = setTimeout(() => cancel(grpcLib.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), Math.max(0, deadline - Date.now()));
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    svc.active.add(cancel);
    let decoded: unknown;
    try {
      decoded = def.requestDeserialize(def.requestSerialize(request));
    } catch (e) {
      // What the socket client reports when a request does not serialize.
      settle(statusError(grpcLib, grpcLib.status.INTERNAL, `Request message serialization failure: ${(e as Error).message}`));
      return;
    }
    Object.assign(call, {
      request: decoded,
      metadata,
      cancelled: false,
      getPeer: () => 'in-process',
      getDeadline: () => deadline,
      getPath: () => def.path,
      sendMetadata: () => undefined,
    });
    handler(call as unknown as grpc.ServerUnaryCall<unknown, unknown>, (err, value) => {
      if (err) {
        const st = err as Partial<grpc.StatusObject>;
        settle(statusError(grpcLib, st.code ?? grpcLib.status.UNKNOWN, st.details ?? '', st.metadata ?? new grpcLib.Metadata()));
        return;
      }
      try {
        settle(null, def.responseDeserialize(def.responseSerialize(value)));
      } catch (e) {
        settle(statusError(grpcLib, grpcLib.status.INTERNAL, `Response message serialization failure: ${(e as Error).message}`));
      }
    });
  });
}
