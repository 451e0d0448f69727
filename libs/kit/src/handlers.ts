// Turns a service's async handlers into grpc-js handlers, wrapping every call
// with what each RPC needs and no handler should write itself: a request id
// and child logger, go-grpc-prometheus metrics, and the conversion of thrown
// typed errors into a gRPC status (status.ts, the one place that does it).
//
// A service writes:
//   unary          async (req, ctx) => response
//   server stream  async (req, call, ctx) => void      (call.write(...))
//   client stream  async (call, ctx) => response       (for await (const m of call))
//   bidi           async (call, ctx) => void
// where the request/response types come from the generated *Handlers
// interface of its proto.
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Logger } from './logger';
import type { RpcMetrics } from './metrics';
import { statusName, toStatus } from './status';

/** Per-call context handed to every handler. */
export interface CallContext {
  /** x-request-id from the caller, or a new one. */
  requestId: string;
  /** A logger carrying the request id and method. */
  log: Logger;
  /** Incoming metadata. */
  metadata: grpc.Metadata;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
}

/** The async handler shape for one generated grpc-js handler type. */
export type AsyncHandler<H> = H extends grpc.handleBidiStreamingCall<infer Rq, infer Rs>
  ? (call: grpc.ServerDuplexStream<Rq, Rs>, ctx: CallContext) => Promise<void>
  : H extends grpc.handleServerStreamingCall<infer Rq, infer Rs>
    ? (req: Rq, call: grpc.ServerWritableStream<Rq, Rs>, ctx: CallContext) => Promise<void>
    : H extends grpc.handleClientStreamingCall<infer Rq, infer Rs>
      ? (call: grpc.ServerReadableStream<Rq, Rs>, ctx: CallContext) => Promise<Rs>
      : H extends grpc.handleUnaryCall<infer Rq, infer Rs>
        ? (req: Rq, ctx: CallContext) => Promise<Rs>
        : never;

/** Async handlers for a generated `XxxHandlers` interface. */
export type AsyncHandlers<H> = {
  [K in keyof H as string extends K ? never : K extends string ? K : never]: AsyncHandler<H[K]>;
};

/**
 * Writes one message to a server stream and, when grpc-js's buffer is full,
 * waits for it to drain (or for the call to end): a handler that streams a
 * whole log must not hold it all in memory for a slow client. Returns false
 * once the call is cancelled.
 */
export async function send<T>(call: { write(m: T): boolean; once(ev: 'drain', f: () => void): unknown; off(ev: 'drain', f: () => void): unknown }, msg: T, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (call.write(msg)) return true;
  await new Promise<void>((res) => {
    const done = (): void => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      res();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
  return !signal.aborted;
}

/**
 * Resolves when `s` (a stream whose write() returned false) wants more data,
 * or has closed (a consumer that failed destroys it): the wait of a producer
 * that must not buffer without bound, and must not hang on a dead consumer.
 */
export function writableAgain(s: { on(ev: 'drain' | 'close', f: () => void): unknown; off(ev: 'drain' | 'close', f: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

// `for await (const m of call)` on a Node stream destroys the stream when the
// loop ends, which for a gRPC call cancels it before the handler can write
// its replies. Handlers iterate incoming messages that way, so make the
// iterator leave the call open.
function keepOpenAfterIteration(call: NodeJS.ReadableStream & { iterator?: (o: { destroyOnReturn: boolean }) => AsyncIterableIterator<unknown> }): void {
  const it = call.iterator?.bind(call);
  if (it) (call as unknown as Record<symbol, unknown>)[Symbol.asyncIterator] = () => it({ destroyOnReturn: false });
}

type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

function grpcType(m: grpc.MethodDefinition<unknown, unknown>): GrpcType {
  if (m.requestStream && m.responseStream) return 'bidi_stream';
  if (m.requestStream) return 'client_stream';
  if (m.responseStream) return 'server_stream';
  return 'unary';
}

export interface WrapOptions {
  /** Fully-qualified service name, e.g. berth.cgroups.v1.Cgroups. */
  service: string;
  log: Logger;
  metrics: RpcMetrics;
  /** Called when a call starts and ends: the host uses it to drain. */
  track?: (delta: 1 | -1) => void;
}

/** Wraps async handlers into a grpc-js UntypedServiceImplementation. */
export function wrapHandlers(
  definition: grpc.ServiceDefinition,
  handlers: Record<string, (...args: never[]) => Promise<unknown>>,
  opts: WrapOptions,
): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(definition)) {
    const fn = handlers[method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    const type = grpcType(def as grpc.MethodDefinition<unknown, unknown>);
    const labels = { grpc_type: type, grpc_service: opts.service, grpc_method: method };

    const begin = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) => {
      const requestId = String(call.metadata.get('x-request-id')[0] ?? randomUUID());
      const log = opts.log.child({ requestId, method: `${opts.service}/${method}` });
      const abort = new AbortController();
      (call as unknown as NodeJS.EventEmitter).on('cancelled', () => abort.abort(new Error('call cancelled by the client')));
      opts.metrics.started.inc(labels);
      opts.track?.(1);
      const timer = opts.metrics.seconds.startTimer(labels);
      let finished = false;
      const finish = (code: grpc.status, err?: unknown) => {
        if (finished) return;
        finished = true;
        timer();
        opts.metrics.handled.inc({ ...labels, grpc_code: statusName(code) });
        opts.track?.(-1);
        if (err !== undefined) {
          const level = code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN ? 'error' : 'info';
          log[level]({ code: statusName(code), err: err instanceof Error ? err.message : String(err) }, 'rpc failed');
        } else {
          log.debug({ code: 'OK' }, 'rpc done');
        }
      };
      const ctx: CallContext = { requestId, log, metadata: call.metadata, signal: abort.signal };
      return { ctx, finish };
    };

    const unimplemented = () =>
      Promise.reject(Object.assign(new Error(`${opts.service}/${method} is not implemented by this server`), { grpcCode: grpc.status.UNIMPLEMENTED }));
    const run = fn ?? unimplemented;

    const failStatus = (err: unknown) => {
      const code = (err as { grpcCode?: grpc.status }).grpcCode;
      if (code !== undefined) return { code, details: (err as Error).message, metadata: new grpc.Metadata() };
      return toStatus(err);
    };

    switch (type) {
      case 'unary':
        impl[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          const { ctx, finish } = begin(call);
          opts.metrics.msgReceived.inc(labels);
          run(call.request, ctx).then(
            (res) => {
              opts.metrics.msgSent.inc(labels);
              finish(grpc.status.OK);
              cb(null, res);
            },
            (err: unknown) => {
              const st = failStatus(err);
              finish(st.code, err);
              cb(st as grpc.ServerErrorResponse);
            },
          );
        }) as grpc.handleUnaryCall<unknown, unknown>;
        break;
      case 'server_stream':
        impl[method] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
          const { ctx, finish } = begin(call);
          opts.metrics.msgReceived.inc(labels);
          const write = call.write.bind(call);
          call.write = ((chunk: unknown, ...rest: unknown[]) => {
            opts.metrics.msgSent.inc(labels);
            return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
          }) as typeof call.write;
          run(call.request, call, ctx).then(
            () => {
              finish(grpc.status.OK);
              call.end();
            },
            (err: unknown) => {
              const st = failStatus(err);
              finish(ctx.signal.aborted ? grpc.status.CANCELLED : st.code, err);
              if (!ctx.signal.aborted) call.emit('error', st);
            },
          );
        }) as grpc.handleServerStreamingCall<unknown, unknown>;
        break;
      case 'client_stream':
        impl[method] = ((call: grpc.ServerReadableStream<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          const { ctx, finish } = begin(call);
          keepOpenAfterIteration(call);
          call.on('data', () => opts.metrics.msgReceived.inc(labels));
          run(call, ctx).then(
            (res) => {
              opts.metrics.msgSent.inc(labels);
              finish(grpc.status.OK);
              cb(null, res);
            },
            (err: unknown) => {
              const st = failStatus(err);
              finish(st.code, err);
              cb(st as grpc.ServerErrorResponse);
            },
          );
        }) as grpc.handleClientStreamingCall<unknown, unknown>;
        break;
      case 'bidi_stream':
        impl[method] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
          const { ctx, finish } = begin(call);
          keepOpenAfterIteration(call);
          call.on('data', () => opts.metrics.msgReceived.inc(labels));
          run(call, ctx).then(
            () => {
              finish(grpc.status.OK);
              call.end();
            },
            (err: unknown) => {
              const st = failStatus(err);
              finish(ctx.signal.aborted ? grpc.status.CANCELLED : st.code, err);
              if (!ctx.signal.aborted) call.emit('error', st);
            },
          );
        }) as grpc.handleBidiStreamingCall<unknown, unknown>;
        break;
    }
  }
  return impl;
}
