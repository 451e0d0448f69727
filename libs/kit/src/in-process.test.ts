// In-process dispatch (in-process.ts): a client in the process that hosts a
// service calls its handlers in place, and what it gets back is what the
// socket gives: the same messages, typed errors, deadlines, cancellation and
// metrics. Every case runs both ways and compares.
import { afterEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { ErrorCode, isUnavailable, type BerthError } from '@berth/errors';
import type { testingV1 } from '@berth/proto';
import { ServiceHost, createClient, tempPaths, type TempPaths } from './index';
import { echoHandlers } from './testing/echo';

const SERVICE = 'berth.testing.v1.Echo';
type Echo = ReturnType<typeof echoClient>;
const echoClient = (socket: string) => createClient<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, [`unix:${socket}`], { timeoutMs: 5000, maxAttempts: 1 });

/** Runs `fn` with every call over the socket (BERTH_IN_PROCESS=0), then restores the setting. */
async function overSocket<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.env.BERTH_IN_PROCESS;
  process.env.BERTH_IN_PROCESS = '0';
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.BERTH_IN_PROCESS;
    else process.env.BERTH_IN_PROCESS = before;
  }
}

/** What a caller can observe of an outcome: the reply, or the typed error's kind, field and message. */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p };
  } catch (e) {
    const err = e as BerthError;
    return { code: err.code, field: err.field, message: err.message };
  }
}

describe('in-process dispatch', () => {
  let paths: TempPaths | undefined;
  let host: ServiceHost | undefined;
  let client: Echo | undefined;

  const start = async () => {
    paths = tempPaths();
    host = await ServiceHost.start<testingV1.EchoHandlers>({ name: 'echo', service: SERVICE, handlers: echoHandlers('a'), paths, metrics: { host: '127.0.0.1', port: 0 } });
    client = echoClient(host.info.socket);
    return { host, client };
  };

  afterEach(async () => {
    client?.close();
    await host?.stop(500);
    paths?.cleanup();
    client = host = paths = undefined;
  });

  it('serves a hosted service in place: the call succeeds with the socket gone, and fails over it', async () => {
    const { host, client } = await start();
    rmSync(host.info.socket);
    await expect(client.Say({ message: 'hi' })).resolves.toEqual({ message: 'hi', server: 'a' });
    const viaSocket = await overSocket(() => client.Say({ message: 'hi' }).catch((e: unknown) => e));
    expect(isUnavailable(viaSocket)).toBe(true);
  });

  it('gives the same replies and typed errors as the socket', async () => {
    const { client } = await start();
    const cases: testingV1.EchoRequest[] = [
      { message: 'hi' },
      { message: '' },
      { message: 'x', failWith: 'InvalidArgument' },
      { message: 'x', failWith: 'NotFound' },
      { message: 'x', failWith: 'FailedPrecondition' },
      { message: 'x', failWith: 'Crash' },
      // Fields the message does not have are dropped by the codec, both ways.
      { message: 'extra', ...({ notAField: 1 } as object) },
    ];
    for (const req of cases) {
      const inPlace = await outcome(client.Say(req));
      const socket = await overSocket(() => outcome(client.Say(req)));
      expect(inPlace, JSON.stringify(req)).toEqual(socket);
    }
    expect(await outcome(client.Say({ message: 'x', failWith: 'InvalidArgument' }))).toEqual({ code: ErrorCode.InvalidArgument, field: 'message', message: 'message: must not be empty' });
  });

  it('keeps deadlines and cancellation, and the handler sees its call cancelled', async () => {
    const { client } = await start();
    const late = await outcome(client.Say({ message: 'slow', delayMs: 10_000 }, { timeoutMs: 100 }));
    expect(late).toMatchObject({ code: ErrorCode.DeadlineExceeded });
    // The socket's message also times the transport's stages; the kind is the contract.
    expect(await overSocket(() => outcome(client.Say({ message: 'slow', delayMs: 10_000 }, { timeoutMs: 100 })))).toMatchObject({ code: ErrorCode.DeadlineExceeded });

    const abort = new AbortController();
    const call = outcome(client.Say({ message: 'slow', delayMs: 10_000 }, { signal: abort.signal }));
    setTimeout(() => abort.abort(), 50);
    expect(await call).toMatchObject({ code: ErrorCode.Cancelled });
    // The cancelled handler finished (its signal aborted): nothing is left in flight.
    await expect.poll(() => host!.inFlight).toBe(0);
  });

  it('counts in-place calls in the service metrics as the socket does', async () => {
    const { host, client } = await start();
    await client.Say({ message: 'x' });
    await client.Say({ message: 'x', failWith: 'NotFound' }).catch(() => undefined);
    const text = await (await fetch(host.info.metricsUrl!)).text();
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Say"[^}]*grpc_code="OK"[^}]*\} 1/);
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Say"[^}]*grpc_code="NOT_FOUND"[^}]*\} 1/);
  });
});
