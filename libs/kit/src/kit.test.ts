import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, isNotFound, isInvalidArgument, isUnavailable } from '@berth/errors';
import type { testingV1 } from '@berth/proto';
import { ServiceHost, checkPrometheusText, createClient, MAX_TIMEOUT_MS, socketPath, tempPaths, waitServing, type TempPaths } from './index';
import { echoHandlers } from './testing/echo';

type EchoClient = ReturnType<typeof echoClient>;
const SERVICE = 'berth.testing.v1.Echo';


function echoClient(addrs: string[]) {
  return createClient<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, addrs, { timeoutMs: 5000 });
}

describe('service kit', () => {
  let paths: TempPaths;
  const hosts: ServiceHost[] = [];
  const clients: { close(): void }[] = [];

  const start = async (name = 'echo', server = 'a') => {
    const host = await ServiceHost.start<testingV1.EchoHandlers>({
      name, service: SERVICE, handlers: echoHandlers(server), paths, metrics: { host: '127.0.0.1', port: 0 },
    });
    hosts.push(host);
    return host;
  };
  const client = (addrs: string[]): EchoClient => {
    const c = echoClient(addrs);
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await Promise.all(hosts.splice(0).map((h) => h.stop(1000)));
    paths?.cleanup();
  });

  it('serves health and reflection on a 0660 unix socket and writes its info file', async () => {
    paths = tempPaths();
    const host = await start();
    const sock = socketPath('echo', paths);
    expect(statSync(sock).mode & 0o777).toBe(0o660);
    expect(host.info.socket).toBe(sock);
    expect(existsSync(join(paths.run, 'echo.json'))).toBe(true);
    await waitServing([`unix:${sock}`], SERVICE);

    const refl = createClient<Record<string, never>, Record<string, never>>('grpc.reflection.v1.ServerReflection', [`unix:${sock}`]);
    clients.push(refl);
    const stream = (refl as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, { listServicesResponse?: { service: { name: string }[] } }> }).ServerReflectionInfo();
    const reply = await new Promise<{ listServicesResponse?: { service: { name: string }[] } }>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
      stream.write({ listServices: '' });
    });
    stream.end();
    const names = reply.listServicesResponse?.service.map((s) => s.name) ?? [];
    expect(names).toContain(SERVICE);
    expect(names).toContain('grpc.health.v1.Health');

    // v1alpha (what grpcurl and older clients ask) answers too, with the
    // descriptor of the file that defines a symbol.
    type Reply = { fileDescriptorResponse?: { fileDescriptorProto: Uint8Array[] }; errorResponse?: { errorCode: number } };
    const alpha = createClient<Record<string, never>, Record<string, never>>('grpc.reflection.v1alpha.ServerReflection', [`unix:${sock}`]);
    clients.push(alpha);
    const s2 = (alpha as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Reply> }).ServerReflectionInfo();
    const ask = (req: unknown) =>
      new Promise<Reply>((resolve, reject) => {
        s2.once('data', resolve);
        s2.once('error', reject);
        s2.write(req);
      });
    const file = await ask({ fileContainingSymbol: SERVICE });
    expect(file.fileDescriptorResponse?.fileDescriptorProto.length).toBeGreaterThan(0);
    expect(Buffer.from(file.fileDescriptorResponse!.fileDescriptorProto[0]!).toString('latin1')).toContain('berth.testing.v1');
    const missing = await ask({ fileContainingSymbol: 'no.such.Symbol' });
    expect(missing.errorResponse?.errorCode).toBe(grpc.status.NOT_FOUND);
    s2.end();
  });

  it('answers grpc.health.v1 Check, Watch and List, following status changes', async () => {
    paths = tempPaths();
    const host = await start();
    const sock = `unix:${host.info.socket}`;
    type Status = { status: string };
    const health = createClient<Record<string, never>, Record<string, never>>('grpc.health.v1.Health', [sock]);
    clients.push(health);
    const h = health as unknown as {
      Check(req: { service: string }): Promise<Status>;
      Watch(req: { service: string }): grpc.ClientReadableStream<Status>;
      List(req: object): Promise<{ statuses: Record<string, Status> }>;
    };
    await expect(h.Check({ service: SERVICE })).resolves.toEqual({ status: 'SERVING' });
    const unknown = await h.Check({ service: 'no.such.Service' }).catch((e: unknown) => e);
    expect(isNotFound(unknown)).toBe(true);
    expect((await h.List({})).statuses).toMatchObject({ '': { status: 'SERVING' }, [SERVICE]: { status: 'SERVING' } });

    const watch = h.Watch({ service: SERVICE });
    const seen: string[] = [];
    const two = new Promise<void>((resolve, reject) => {
      watch.on('data', (m: Status) => {
        seen.push(m.status);
        if (seen.length === 1) host.health.setStatus(SERVICE, 'NOT_SERVING');
        if (seen.length === 2) resolve();
      });
      watch.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.CANCELLED ? undefined : reject(e)));
    });
    await two;
    watch.cancel();
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    await expect(h.Check({ service: SERVICE })).resolves.toEqual({ status: 'NOT_SERVING' });

    const other = h.Watch({ service: 'no.such.Service' });
    const first = await new Promise<Status>((resolve) => other.once('data', resolve));
    other.cancel();
    other.on('error', () => undefined);
    expect(first.status).toBe('SERVICE_UNKNOWN');
  });

  it('maps typed errors to status codes and back, keeping kind and field', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    await expect(c.Say({ message: 'hi' })).resolves.toMatchObject({ message: 'hi', server: 'a' });
    const err = await c.Say({ message: '', failWith: 'InvalidArgument' }).catch((e: unknown) => e);
    expect(isInvalidArgument(err)).toBe(true);
    expect(err).toMatchObject({ field: 'message', message: 'message: must not be empty' });
    expect((err as { cause: grpc.ServiceError }).cause.code).toBe(grpc.status.INVALID_ARGUMENT);
    for (const [kind, code] of [
      ['NotFound', grpc.status.NOT_FOUND], ['AlreadyExists', grpc.status.ALREADY_EXISTS],
      ['FailedPrecondition', grpc.status.FAILED_PRECONDITION], ['ResourceExhausted', grpc.status.RESOURCE_EXHAUSTED],
      ['DataLoss', grpc.status.DATA_LOSS], ['Unavailable', grpc.status.UNAVAILABLE], ['PermissionDenied', grpc.status.PERMISSION_DENIED],
    ] as const) {
      const e = await c.SayOnce({ message: 'x', failWith: kind }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: kind });
      expect((e as { cause: grpc.ServiceError }).cause.code).toBe(code);
    }
    const bug = await c.SayOnce({ message: 'x', failWith: 'Crash' }).catch((x: unknown) => x);
    expect(bug).toMatchObject({ code: 'Internal', message: 'internal error: a bug' });
  });

  it('streams in every direction and converts stream errors', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    const got: string[] = [];
    for await (const m of c.Stream({ message: 'm', repeat: 3 })) got.push((m as { message: string }).message);
    expect(got).toEqual(['m-0', 'm-1', 'm-2']);

    const failing = c.Stream({ message: 'm', repeat: 1, failWith: 'NotFound' });
    const err = await (async () => { try { for await (const _ of failing) { /* drain */ } } catch (e) { return e; } })();
    expect(isNotFound(err)).toBe(true);

    const { stream, response } = c.Collect();
    stream.write({ message: 'a' });
    stream.write({ message: 'b' });
    stream.end();
    await expect(response).resolves.toMatchObject({ message: 'ab' });

    const chat = c.Chat();
    const replies: string[] = [];
    const done = new Promise<void>((resolve) => {
      chat.on('data', (m: { message: string }) => replies.push(m.message));
      chat.on('end', () => resolve());
    });
    chat.write({ message: 'x' });
    chat.write({ message: 'y' });
    chat.end();
    await done;
    expect(replies).toEqual(['X', 'Y']);
  });

  it('a "wait forever" deadline (Node\'s timer limit) is capped, not turned into an instant DEADLINE_EXCEEDED by the server', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    // Without the cap, grpc-js rounds 2^31-1 ms up to 2147484 S and its server
    // reads that back into a negative int32 timer that fires at once.
    await expect(c.Say({ message: 'long', delayMs: 300 }, { timeoutMs: 2 ** 31 - 1 })).resolves.toMatchObject({ message: 'long' });
    expect(MAX_TIMEOUT_MS).toBeLessThan(2 ** 31 - 1000);
  });

  it('drains in-flight calls on stop and refuses new ones', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    const slow = c.Say({ message: 'slow', delayMs: 400 });
    await new Promise((r) => setTimeout(r, 100));
    expect(host.inFlight).toBe(1);
    const stopped = host.stop(5000);
    await expect(slow).resolves.toMatchObject({ message: 'slow' });
    await stopped;
    const after = await c.SayOnce({ message: 'late' }).catch((e: unknown) => e);
    expect(isUnavailable(after)).toBe(true);
    expect(existsSync(host.info.socket)).toBe(false);
  });

  it('cancels calls still running at the drain deadline', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    const slow = c.SayOnce({ message: 'x', delayMs: 0 }).then(() => c.Say({ message: 'slow', delayMs: 5000 }));
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    await host.stop(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    const err = await slow.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });

  it('exports go-grpc-prometheus metrics that promtool accepts', async () => {
    paths = tempPaths();
    const host = await start();
    const c = client([`unix:${host.info.socket}`]);
    await c.Say({ message: 'x' });
    await c.Say({ message: 'x', failWith: 'NotFound' }).catch(() => undefined);
    const text = await (await fetch(host.info.metricsUrl!)).text();
    expect(text).toMatch(/grpc_server_started_total\{[^}]*grpc_method="Say"[^}]*\} 2/);
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Say"[^}]*grpc_code="NOT_FOUND"[^}]*\} 1/);
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Say"[^}]*grpc_code="OK"[^}]*\} 1/);
    expect(text).toContain('grpc_server_handling_seconds_bucket');
    expect(text).toContain('process_resident_memory_bytes');
    expect(() => checkPrometheusText(text)).not.toThrow();
    expect(() => checkPrometheusText('garbage{ 1\n')).toThrow(/does not parse/);
  });

  it('reconnects to a service restarted alone, and round-robins over replicas', async () => {
    paths = tempPaths();
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

    // An idempotent call survives one replica going away; a non-idempotent one is not retried.
    await b.stop(500);
    hosts.splice(hosts.indexOf(b), 1);
    for (let i = 0; i < 4; i++) await expect(rr.Say({ message: 'x' })).resolves.toMatchObject({ server: 'a2' });
  });

  it('refuses to start over a socket another live server holds', async () => {
    paths = tempPaths();
    await start();
    await expect(start()).rejects.toThrow(/in use/);
  });
});

void NotFoundError;
