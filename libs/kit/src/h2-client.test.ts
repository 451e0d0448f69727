// The HTTP/2 client (h2-client.ts) and the grpc-js client (client.ts) are two
// transports behind one BerthClient shape: the same calls, against the same
// real grpc-js server, must give the same answers, errors and stream
// behaviour. Each case runs on both.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalidArgument, isNotFound, isUnavailable } from '@berth/errors';
import type { testingV1 } from '@berth/proto';
import { createClient } from './client';
import { createClient as createEntryClient } from './client-entry';
import { createH2Client, h2Serves } from './h2-client';
import { ServiceHost, socketPath, tempPaths, type TempPaths } from './index';
import { echoHandlers } from './testing/echo';

const SERVICE = 'berth.testing.v1.Echo';
type Echo = ReturnType<typeof createClient<testingV1.EchoDefinition, testingV1.EchoHandlers>>;


const transports = [
  ['grpc-js', (addrs: string[], timeoutMs = 5000) => createClient<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, addrs, { timeoutMs })],
  ['http2', (addrs: string[], timeoutMs = 5000) => createH2Client<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, addrs, { timeoutMs })],
] as const;

describe.each(transports)('client transport %s', (_name, make) => {
  let paths: TempPaths;
  const hosts: ServiceHost[] = [];
  const clients: Echo[] = [];

  const start = async (name = 'echo', server = 'a') => {
    const host = await ServiceHost.start<testingV1.EchoHandlers>({ name, service: SERVICE, handlers: echoHandlers(server), paths });
    hosts.push(host);
    return host;
  };
  const client = (addrs: string[], timeoutMs?: number): Echo => {
    const c = make(addrs, timeoutMs) as Echo;
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await Promise.all(hosts.splice(0).map((h) => h.stop(1000)));
    paths?.cleanup();
  });

  it('answers unary calls and gives back the typed error, kind and field the server threw', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    await expect(c.Say({ message: 'hi' })).resolves.toMatchObject({ message: 'hi', server: 'a' });
    await expect(c.Say({ message: 'ünïcode ✓ '.repeat(1000) })).resolves.toMatchObject({ message: 'ünïcode ✓ '.repeat(1000) });
    const err = await c.Say({ message: '', failWith: 'InvalidArgument' }).catch((e: unknown) => e);
    expect(isInvalidArgument(err)).toBe(true);
    expect(err).toMatchObject({ field: 'message', message: 'message: must not be empty' });
    for (const kind of ['NotFound', 'AlreadyExists', 'FailedPrecondition', 'ResourceExhausted', 'DataLoss', 'PermissionDenied'] as const) {
      await expect(c.SayOnce({ message: 'x', failWith: kind })).rejects.toMatchObject({ code: kind, message: `failing with ${kind} as asked` });
    }
  });

  it('streams in every direction, with back-pressure, and ends a failing stream with its error', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    const got: string[] = [];
    for await (const m of c.Stream({ message: 'm', repeat: 3 })) got.push((m as { message: string }).message);
    expect(got).toEqual(['m-0', 'm-1', 'm-2']);

    // 20k messages read slowly: all arrive, in order.
    let n = 0;
    const many = c.Stream({ message: 'x'.repeat(100), repeat: 20_000 });
    for await (const m of many) {
      expect((m as { message: string }).message.endsWith(`-${n}`)).toBe(true);
      n++;
      if (n % 5000 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(n).toBe(20_000);

    const failing = c.Stream({ message: 'm', repeat: 2, failWith: 'NotFound' });
    const seen: string[] = [];
    const err = await (async () => {
      try {
        for await (const m of failing) seen.push((m as { message: string }).message);
      } catch (e) {
        return e;
      }
    })();
    expect(seen).toEqual(['m-0', 'm-1']);
    expect(isNotFound(err)).toBe(true);

    const { stream, response } = c.Collect();
    stream.write({ message: 'a' });
    stream.write({ message: 'b' });
    stream.end();
    await expect(response).resolves.toMatchObject({ message: 'ab' });

    const chat = c.Chat();
    const replies: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      chat.on('data', (m: { message: string }) => replies.push(m.message));
      chat.on('end', () => resolve());
      chat.on('error', reject);
    });
    chat.write({ message: 'x' });
    chat.write({ message: 'y' });
    chat.end();
    await done;
    expect(replies).toEqual(['X', 'Y']);
  });

  it('sends a client stream larger than the server\'s windows whole, and runs concurrent calls on one client side by side', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    // 1.5 MiB in 48 KiB messages: past grpc-js's 64 KiB stream and connection windows and its 16 KiB frames.
    const { stream, response } = c.Collect();
    const parts = Array.from({ length: 32 }, (_, i) => String.fromCharCode(97 + (i % 26)).repeat(48 * 1024));
    for (const p of parts) {
      if (!stream.write({ message: p })) await new Promise((r) => stream.once('drain', r));
    }
    stream.end();
    const got = (await response) as { message: string };
    expect(got.message.length).toBe(32 * 48 * 1024);
    expect(got.message).toBe(parts.join(''));

    // A slow call started first ends after fast ones started later: they are not queued behind it.
    const order: string[] = [];
    const slow = c.Say({ message: 'slow', delayMs: 300 }).then((r) => order.push(r.message));
    const fast = Array.from({ length: 5 }, (_, i) => c.SayOnce({ message: `fast-${i}` }).then((r) => order.push(r.message)));
    await Promise.all([slow, ...fast]);
    expect(order.at(-1)).toBe('slow');
    expect(order.slice(0, 5).sort()).toEqual(['fast-0', 'fast-1', 'fast-2', 'fast-3', 'fast-4']);
  });

  it('enforces the deadline and cancels on request', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`], 200);
    const late = await c.Say({ message: 'slow', delayMs: 3000 }).catch((e: unknown) => e);
    expect(late).toMatchObject({ code: 'DeadlineExceeded' });

    const ac = new AbortController();
    const pending = c.Say({ message: 'slow', delayMs: 3000 }, { timeoutMs: 5000, signal: ac.signal }).catch((e: unknown) => e);
    setTimeout(() => ac.abort(), 50);
    expect(await pending).toMatchObject({ code: 'Cancelled' });

    const stream = c.Stream({ message: 's', repeat: 1, delayMs: 3000 });
    const ended = new Promise<unknown>((resolve) => {
      stream.on('data', () => stream.cancel());
      stream.on('error', resolve);
    });
    expect(await ended).toMatchObject({ code: 'Cancelled' });
    // The connection is still good for the next call.
    await expect(c.SayOnce({ message: 'after' })).resolves.toMatchObject({ message: 'after' });
  });

  it('reports a missing socket as UNAVAILABLE in the words the CLI reads, reconnects after a restart and retries idempotent calls on the next replica', async () => {
    paths = tempPaths();
    const missing = client([`unix:${socketPath('nobody', paths)}`], 1000);
    const down = await missing.SayOnce({ message: 'x' }).catch((e: unknown) => e);
    expect(isUnavailable(down)).toBe(true);
    expect(String((down as { cause?: { details?: string } }).cause?.details)).toMatch(/No connection established.*connect ENOENT/);

    // A peer that accepts and hangs up at once (a dying service): UNAVAILABLE, a connection failure.
    const hangup = createServer((sock) => sock.destroy());
    const hangupDir = mkdtempSync(join(tmpdir(), 'berth-h2-'));
    const hangupPath = join(hangupDir, 'hangup.sock');
    await new Promise<void>((r, j) => hangup.once('error', j).listen(hangupPath, r));
    try {
      const dropped = await client([`unix:${hangupPath}`], 1000).SayOnce({ message: 'x' }).catch((e: unknown) => e);
      expect(isUnavailable(dropped)).toBe(true);
      expect(String((dropped as { cause?: { details?: string } }).cause?.details)).toMatch(/No connection established|Connection dropped/);
    } finally {
      await new Promise<void>((r) => hangup.close(() => r()));
      rmSync(hangupDir, { recursive: true, force: true });
    }

    const a = await start('echo', 'a');
    const c = client([`unix:${a.info.socket}`]);
    await expect(c.Say({ message: '1' })).resolves.toMatchObject({ server: 'a' });
    await a.stop(1000);
    hosts.splice(hosts.indexOf(a), 1);
    const a2 = await start('echo', 'a2');
    await expect(c.Say({ message: '2' })).resolves.toMatchObject({ server: 'a2' });

    const b = await start('echo-b', 'b');
    const rr = client([`unix:${a2.info.socket}`, `unix:${b.info.socket}`]);
    const servers = new Set<string>();
    for (let i = 0; i < 4; i++) servers.add((await rr.Say({ message: 'x' })).server);
    expect([...servers].sort()).toEqual(['a2', 'b']);
    await b.stop(500);
    hosts.splice(hosts.indexOf(b), 1);
    for (let i = 0; i < 4; i++) await expect(rr.Say({ message: 'x' })).resolves.toMatchObject({ server: 'a2' });
  });
});

describe('client entry', () => {
  it('takes HTTP/2 for unix sockets only; TCP addresses and BERTH_CLIENT_TRANSPORT=grpc-js get grpc-js', () => {
    expect(h2Serves(['unix:/run/berth/engine.sock', '/run/berth/x.sock'])).toBe(true);
    expect(h2Serves(['unix:/run/berth/engine.sock', '10.0.0.1:7000'])).toBe(false);
    expect(() => createH2Client(SERVICE, ['127.0.0.1:1'])).toThrow(/unix sockets only/);
    // A TCP address is mutual TLS unless plaintext is asked for (tls.ts): asked here.
    process.env.BERTH_ECHO_TCP_INSECURE = '1';
    try {
      const viaEntry = createEntryClient<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, ['127.0.0.1:1'], { tlsFor: 'echo' });
      // grpc-js normalizes the address list as given; the h2 client would have refused it.
      expect(viaEntry.addresses).toEqual(['127.0.0.1:1']);
      viaEntry.close();
    } finally {
      delete process.env.BERTH_ECHO_TCP_INSECURE;
    }
  });
});
