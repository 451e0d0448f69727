// Typed gRPC clients for berth services. A client has:
//   - promises for unary calls, grpc-js streams for streaming ones;
//   - a deadline on every call (default 30 s, per call overridable);
//   - a list of addresses used round-robin, so an operator can run several
//     replicas of a stateless service (BERTH_<SERVICE>_ADDR=a,b,c);
//   - retries on UNAVAILABLE for calls whose proto method is marked
//     `option idempotency_level = IDEMPOTENT` or `NO_SIDE_EFFECTS`, moving to
//     the next address with a short backoff, until the deadline;
//   - errors turned back into the typed berth error the server threw
//     (status.ts).
import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { grpcServiceDefinition } from '@berth/proto';
import { fromStatus, TO_STATUS } from './status-codes';
import { callLocalUnary, localService } from './in-process';
import { channelCredentials, stripTcpScheme } from './tls';

// grpc-js is loaded when the first grpc-js client is made, not with this
// module: the CLI's entry (client-entry.ts) imports it for TCP addresses
// only and otherwise speaks HTTP/2 itself (h2-client.ts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadGrpc = () => require('@grpc/grpc-js') as typeof grpc;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- node:crypto with the first call too
const randomUUID = () => (require('node:crypto') as typeof import('node:crypto')).randomUUID();

export interface CallOpts {
  /** Milliseconds until the call is abandoned (DEADLINE_EXCEEDED). */
  timeoutMs?: number;
  /** Propagated as x-request-id. */
  requestId?: string;
  /** Extra metadata. */
  metadata?: Record<string, string>;
  /** Cancels the call. */
  signal?: AbortSignal;
}

type AnyFn = (...a: never[]) => unknown;

/* eslint-disable @typescript-eslint/no-explicit-any -- `any` is what lets the
   conditional types below match grpc-js's generic handler types structurally. */
/** Client method shape for one method, from the generated Definition and Handlers types. */
export type ClientMethod<D, H> = D extends MethodDefinition<infer Rq, infer _Rs, infer _RqOut, infer RsOut>
  ? H extends grpc.handleBidiStreamingCall<any, any>
    ? (opts?: CallOpts) => grpc.ClientDuplexStream<Rq, RsOut>
    : H extends grpc.handleServerStreamingCall<any, any>
      ? (req: Rq, opts?: CallOpts) => grpc.ClientReadableStream<RsOut>
      : H extends grpc.handleClientStreamingCall<any, any>
        ? (opts?: CallOpts) => { stream: grpc.ClientWritableStream<Rq>; response: Promise<RsOut> }
        : (req: Rq, opts?: CallOpts) => Promise<RsOut>
  : never;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Keys of T without index signatures (generated interfaces extend indexable grpc types). */
export type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

/** A typed client: `BerthClient<CgroupsDefinition, CgroupsHandlers>`. */
export type BerthClient<D, H> = {
  [K in KnownKeys<D> & KnownKeys<H> & string]: ClientMethod<D[K], H[K]>;
} & { close(): void; readonly addresses: readonly string[] };

export interface ClientOptions {
  /** Default per-call deadline. */
  timeoutMs?: number;
  /** Attempts for idempotent calls that fail UNAVAILABLE (default 5). */
  maxAttempts?: number;
  /**
   * The service whose TLS settings apply to TCP addresses (tls.ts), when it
   * is not `service` itself: a grpc.health.v1 client of the engine passes
   * the engine's name.
   */
  tlsFor?: string;
}

function isIdempotent(def: grpc.MethodDefinition<unknown, unknown>): boolean {
  const level = (def as { options?: { idempotency_level?: string } }).options?.idempotency_level;
  return level === 'IDEMPOTENT' || level === 'NO_SIDE_EFFECTS';
}

function normalizeAddress(a: string): string {
  // "/run/berth/x.sock" -> unix:/run/berth/x.sock; tcp://host:port -> host:port; host:port stays.
  return a.startsWith('/') ? `unix:${a}` : stripTcpScheme(a);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The longest deadline a call gets: one day. grpc-js sends a deadline in
 * whole units rounded up (2^31-1 ms goes out as 2147484 S) and its server
 * reads it back into an int32 timer, so a deadline near Node's timer limit
 * comes back negative and fires at once (a "wait forever" became a busy loop
 * of DEADLINE_EXCEEDED). Callers that wait longer loop on DEADLINE_EXCEEDED.
 */
export const MAX_TIMEOUT_MS = 24 * 3600_000;

/**
 * Creates a typed client for a fully-qualified service name over one or
 * more addresses.
 */
export function createClient<D, H>(service: string, addresses: string[], opts: ClientOptions = {}): BerthClient<D, H> {
  if (addresses.length === 0) throw new Error(`no address given for ${service}`);
  const grpc = loadGrpc();
  // The compiled descriptor spares every client process the .proto parse
  // (libs/proto/src/compiled.ts); BERTH_PROTOS (contracts from another
  // directory) is honoured by parsing that directory instead.
  const definition = grpcServiceDefinition(service);
  const Ctor = grpc.makeGenericClientConstructor(definition, service);
  const addrs = addresses.map(normalizeAddress);
  const clients = addrs.map(
    (a) =>
      // Mutual TLS for a TCP address (tls.ts); a unix socket needs none.
      new Ctor(a, channelCredentials(grpc, opts.tlsFor ?? service, a), {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        // Reconnect quickly after a service restart.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2000,
      }),
  );
  let next = 0;
  const pickIndex = () => {
    const i = next % clients.length;
    next = (next + 1) % clients.length;
    return i;
  };
  const pick = () => clients[pickIndex()]!;
  const defaultTimeout = Math.min(opts.timeoutMs ?? 30_000, MAX_TIMEOUT_MS);
  const maxAttempts = opts.maxAttempts ?? 5;

  const prepare = (o: CallOpts | undefined) => {
    const md = new grpc.Metadata();
    md.set('x-request-id', o?.requestId ?? randomUUID());
    for (const [k, v] of Object.entries(o?.metadata ?? {})) md.set(k, v);
    const deadline = Date.now() + Math.min(o?.timeoutMs ?? defaultTimeout, MAX_TIMEOUT_MS);
    return { md, deadline };
  };

  const convertStreamErrors = <S extends NodeJS.EventEmitter>(call: S, signal?: AbortSignal): S => {
    const emit = call.emit.bind(call);
    (call as { emit: AnyFn }).emit = ((ev: string, ...args: unknown[]) =>
      ev === 'error' ? emit('error', fromStatus(args[0] as grpc.ServiceError)) : emit(ev, ...args)) as AnyFn;
    if (signal) signal.addEventListener('abort', () => (call as unknown as grpc.Call).cancel(), { once: true });
    return call;
  };

  const api: Record<string, unknown> = {
    addresses: addrs,
    close: () => clients.forEach((c) => c.close()),
  };
  for (const [method, raw] of Object.entries(definition)) {
    const def = raw as grpc.MethodDefinition<unknown, unknown>;
    const idempotent = isIdempotent(def);
    if (!def.requestStream && !def.responseStream) {
      api[method] = async (req: unknown, o?: CallOpts) => {
        const { md, deadline } = prepare(o);
        let attempt = 0;
        for (;;) {
          attempt++;
          const index = pickIndex();
          const client = clients[index]!;
          // A service this process hosts is called in place (in-process.ts).
          const hosted = localService(addrs[index]!, service);
          try {
            if (hosted) return await callLocalUnary(grpc, hosted, method, req, md, deadline, o?.signal);
            return await new Promise((resolve, reject) => {
              const call = (client as unknown as Record<string, AnyFn>)[method]!.call(
                client,
                ...([req, md, { deadline }, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))] as never[]),
              ) as grpc.ClientUnaryCall;
              o?.signal?.addEventListener('abort', () => call.cancel(), { once: true });
            });
          } catch (e) {
            // In place, the error is typed already; its status code decides the retry alike.
            const err = e as grpc.ServiceError;
            const code = hosted ? TO_STATUS[(e as { code: keyof typeof TO_STATUS }).code] : err.code;
            const retry = idempotent && code === grpc.status.UNAVAILABLE && attempt < maxAttempts && Date.now() < deadline;
            if (!retry) throw hosted ? e : fromStatus(err);
            await sleep(Math.min(50 * 2 ** attempt, 1000, Math.max(0, deadline - Date.now())));
          }
        }
      };
    } else if (def.responseStream && !def.requestStream) {
      api[method] = (req: unknown, o?: CallOpts) => {
        const { md, deadline } = prepare(o);
        const client = pick();
        const call = (client as unknown as Record<string, AnyFn>)[method]!.call(client, ...([req, md, { deadline: o?.timeoutMs ? deadline : Infinity }] as never[]));
        return convertStreamErrors(call as grpc.ClientReadableStream<unknown>, o?.signal);
      };
    } else if (def.requestStream && def.responseStream) {
      api[method] = (o?: CallOpts) => {
        const { md, deadline } = prepare(o);
        const client = pick();
        const call = (client as unknown as Record<string, AnyFn>)[method]!.call(client, ...([md, { deadline: o?.timeoutMs ? deadline : Infinity }] as never[]));
        return convertStreamErrors(call as grpc.ClientDuplexStream<unknown, unknown>, o?.signal);
      };
    } else {
      api[method] = (o?: CallOpts) => {
        const { md, deadline } = prepare(o);
        const client = pick();
        let stream!: grpc.ClientWritableStream<unknown>;
        const response = new Promise((resolve, reject) => {
          stream = (client as unknown as Record<string, AnyFn>)[method]!.call(
            client,
            ...([md, { deadline }, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(fromStatus(err)) : resolve(res))] as never[]),
          ) as grpc.ClientWritableStream<unknown>;
        });
        o?.signal?.addEventListener('abort', () => stream.cancel(), { once: true });
        return { stream, response };
      };
    }
  }
  return api as BerthClient<D, H>;
}

/** Waits until every address of a service answers Health SERVING. */
export async function waitServing(addresses: string[], service = '', timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const health = createClient<Record<string, never>, Record<string, never>>('grpc.health.v1.Health', addresses, { timeoutMs: 2000, ...(service ? { tlsFor: service } : {}) });
  try {
    for (;;) {
      try {
        const results = await Promise.all(
          addresses.map(() => (health as unknown as { Check(r: unknown, o?: CallOpts): Promise<{ status: string }> }).Check({ service }, { timeoutMs: 1000 })),
        );
        if (results.every((r) => r.status === 'SERVING')) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`${service || addresses.join(',')} not SERVING after ${timeoutMs} ms`);
      await sleep(100);
    }
  } finally {
    health.close();
  }
}
