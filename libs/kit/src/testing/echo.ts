// The berth.testing.v1.Echo service's handlers, for the kit's own tests (the
// service host in kit.test.ts, both client transports in h2-client.test.ts):
// every call shape, typed errors on request (fail_with), delays that honour
// cancellation, server streams that respect back-pressure.
import { InvalidArgumentError, makeError, type ErrorCode } from '@berth/errors';
import type { testingV1 } from '@berth/proto';
import type { AsyncHandlers } from '../handlers';

/** Handlers answering as `server`; fail_with "InvalidArgument" (with a field), "Crash" (a plain Error) or any error kind. */
export function echoHandlers(server: string): AsyncHandlers<testingV1.EchoHandlers> {
  const maybeFail = (failWith: string) => {
    if (failWith === 'InvalidArgument') throw new InvalidArgumentError('message: must not be empty', { field: 'message' });
    if (failWith === 'Crash') throw new Error('a bug');
    if (failWith) throw makeError(failWith as ErrorCode, `failing with ${failWith} as asked`);
  };
  const wait = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); });
    });
  return {
    Say: async (req, ctx) => {
      await wait(req.delayMs, ctx.signal);
      maybeFail(req.failWith);
      return { message: req.message, server };
    },
    SayOnce: async (req) => {
      maybeFail(req.failWith);
      return { message: req.message, server };
    },
    Stream: async (req, call) => {
      for (let i = 0; i < req.repeat; i++) {
        if (!call.write({ message: `${req.message}-${i}`, server })) await new Promise((r) => call.once('drain', r));
      }
      await wait(req.delayMs);
      maybeFail(req.failWith);
    },
    Collect: async (call) => {
      let all = '';
      for await (const m of call as AsyncIterable<testingV1.EchoRequest__Output>) all += m.message;
      return { message: all, server };
    },
    Chat: async (call) => {
      for await (const m of call as AsyncIterable<testingV1.EchoRequest__Output>) call.write({ message: m.message.toUpperCase(), server });
    },
  };
}
