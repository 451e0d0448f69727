import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FailedPreconditionError, NotFoundError, UnavailableError, isInvalidArgument, isResourceExhausted } from '@berth/errors';
import { createStreamingServer } from './server';
import type { CriStreamingServer, StreamingServerOptions } from './server-types';
import type { StreamingIo, StreamingRuntime, TerminalSize } from './runtime';
import { TestSpdyClient } from './testing/spdy-client';
import { RstStatus } from './spdy/frames';

const V4 = 'v4.channel.k8s.io';

/** A runtime whose exec runs a few scripted commands against the client's streams. */
class FakeRuntime implements StreamingRuntime {
  sizes: TerminalSize[] = [];
  aborted = 0;
  forwards: Array<{ sandbox: string; port: number }> = [];
  targetPort = 0;

  async exec(containerId: string, cmd: string[], io: StreamingIo): Promise<number> {
    if (containerId === 'missing') throw new NotFoundError(`container ${containerId} not found`);
    if (containerId === 'stopped') throw new FailedPreconditionError(`container ${containerId} is not running`);
    switch (cmd[0]) {
      case 'echo':
        io.stdout?.write(`${cmd.slice(1).join(' ')}\n`);
        io.stderr?.write('to stderr\n');
        return 0;
      case 'exit':
        return Number(cmd[1]);
      case 'cat': {
        // copies stdin to stdout until the client's stdin FIN
        for await (const chunk of io.stdin ?? []) io.stdout?.write(chunk);
        return 0;
      }
      case 'sizes': {
        for await (const size of io.resize) {
          this.sizes.push(size);
          if (this.sizes.length === 2) break;
        }
        io.stdout?.write(JSON.stringify(this.sizes));
        return 0;
      }
      case 'hang':
        await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve()));
        this.aborted++;
        return 137;
      default:
        throw new Error(`no such command ${cmd[0]}`);
    }
  }

  async attach(containerId: string, io: StreamingIo): Promise<void> {
    if (containerId === 'missing') throw new NotFoundError(`container ${containerId} not found`);
    io.stdout?.write('attached\n');
    for await (const chunk of io.stdin ?? []) io.stdout?.write(chunk);
  }

  async portForward(podSandboxId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
    this.forwards.push({ sandbox: podSandboxId, port });
    if (port === 1) throw new UnavailableError('connect ECONNREFUSED 127.0.0.1:1');
    const sock = net.connect(this.targetPort, '127.0.0.1');
    signal.addEventListener('abort', () => sock.destroy());
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    stream.pipe(sock);
    sock.pipe(stream);
    await new Promise<void>((resolve) => sock.once('close', () => resolve()));
  }
}

let server: CriStreamingServer | undefined;
let runtime: FakeRuntime;
const clients: TestSpdyClient[] = [];
const extraServers: net.Server[] = [];

async function start(opts: Partial<StreamingServerOptions> = {}): Promise<CriStreamingServer> {
  runtime = new FakeRuntime();
  server = await createStreamingServer({ runtime, ...opts });
  return server;
}

async function connect(url: string, protocols = [V4, 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'], opts = {}) {
  const u = new URL(url);
  const res = await TestSpdyClient.connect(`${u.protocol}//${u.host}`, u.pathname, protocols, opts);
  if (res.client) clients.push(res.client);
  return res;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of extraServers.splice(0)) s.close();
  await server?.close();
  server = undefined;
});

describe('handing out URLs', () => {
  it('returns a URL on the listening address with a one-time token per request', async () => {
    const s = await start();
    expect(s.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const a = s.getExec({ containerId: 'c1', cmd: ['echo'], tty: false, stdin: false, stdout: true, stderr: true });
    const b = s.getExec({ containerId: 'c1', cmd: ['echo'], tty: false, stdin: false, stdout: true, stderr: true });
    expect(a.url).toMatch(new RegExp(`^${s.baseUrl}/exec/[A-Za-z0-9_-]{16,}$`));
    expect(a.url).not.toBe(b.url);
    expect(s.getAttach({ containerId: 'c1', tty: false, stdin: true, stdout: true, stderr: false }).url).toContain('/attach/');
    expect(s.getPortForward({ podSandboxId: 'p1', ports: [80] }).url).toContain('/portforward/');
  });

  it('refuses requests kubelet refuses, naming the field', async () => {
    const s = await start();
    const bad = (f: () => unknown, field: string): void => {
      try {
        f();
        expect.unreachable();
      } catch (err) {
        expect(isInvalidArgument(err)).toBe(true);
        expect((err as { field?: string }).field).toBe(field);
      }
    };
    bad(() => s.getExec({ containerId: '', cmd: ['ls'], tty: false, stdin: false, stdout: true, stderr: false }), 'container_id');
    bad(() => s.getExec({ containerId: 'c', cmd: [], tty: false, stdin: false, stdout: true, stderr: false }), 'cmd');
    bad(() => s.getExec({ containerId: 'c', cmd: ['ls'], tty: true, stdin: false, stdout: true, stderr: true }), 'stderr');
    bad(() => s.getAttach({ containerId: 'c', tty: false, stdin: false, stdout: false, stderr: false }), 'stdout');
    bad(() => s.getPortForward({ podSandboxId: '', ports: [] }), 'pod_sandbox_id');
    bad(() => s.getPortForward({ podSandboxId: 'p', ports: [70000] }), 'port');
  });

  it('caps the tokens outstanding', async () => {
    const s = await start({ maxTokens: 2 });
    s.getPortForward({ podSandboxId: 'p', ports: [] });
    s.getPortForward({ podSandboxId: 'p', ports: [] });
    try {
      s.getPortForward({ podSandboxId: 'p', ports: [] });
      expect.unreachable();
    } catch (err) {
      expect(isResourceExhausted(err)).toBe(true);
    }
  });

  it('listens where it is told and refuses an address that is not host:port', async () => {
    const s = await start({ address: '127.0.0.1:0' });
    expect(s.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(createStreamingServer({ runtime: new FakeRuntime(), address: 'localhost' })).rejects.toThrow(/not host:port/);
  });
});

describe('serving a URL', () => {
  it('a token works once (404 the second time) and not for another kind of request', async () => {
    const s = await start();
    const { url } = s.getExec({ containerId: 'c', cmd: ['echo', 'hi'], tty: false, stdin: false, stdout: true, stderr: false });
    const first = await connect(url);
    expect(first.response.status).toBe(101);
    const second = await connect(url);
    expect(second.response.status).toBe(404);
    const pf = s.getPortForward({ podSandboxId: 'p', ports: [] });
    const wrongKind = await connect(pf.url.replace('/portforward/', '/exec/'));
    expect(wrongKind.response.status).toBe(404);
  });

  it('an expired token is not found', async () => {
    const s = await start({ tokenTtlMs: 0 });
    const { url } = s.getExec({ containerId: 'c', cmd: ['echo'], tty: false, stdin: false, stdout: true, stderr: false });
    expect((await connect(url)).response.status).toBe(404);
  });

  it('negotiates the client\'s first shared protocol, refuses none shared (403) or none sent (400)', async () => {
    const s = await start();
    const req = { containerId: 'c', cmd: ['echo'], tty: false, stdin: false, stdout: true, stderr: false };
    const v3 = await connect(s.getExec(req).url, ['v5.channel.k8s.io', 'v3.channel.k8s.io', V4]);
    expect(v3.response.headers['x-stream-protocol-version']).toEqual(['v3.channel.k8s.io']);
    expect(v3.response.headers.upgrade).toEqual(['SPDY/3.1']);
    const none = await connect(s.getExec(req).url, ['v9.channel.k8s.io']);
    expect(none.response.status).toBe(403);
    expect(none.response.headers['x-accepted-stream-protocol-versions']).toContain(V4);
    const missing = await connect(s.getExec(req).url, []);
    expect(missing.response.status).toBe(400);
    const websocket = await connect(s.getExec(req).url, [V4], { upgrade: 'websocket' });
    expect(websocket.response.status).toBe(400);
    expect(websocket.response.body).toMatch(/SPDY\/3\.1/);
  });
});

describe('exec (remotecommand)', () => {
  async function execSession(cmd: string[], opts: { stdin?: boolean; tty?: boolean; protocol?: string; containerId?: string } = {}) {
    const s = server ?? (await start());
    const tty = opts.tty ?? false;
    const { url } = s.getExec({ containerId: opts.containerId ?? 'c1', cmd, tty, stdin: opts.stdin ?? false, stdout: true, stderr: !tty });
    const { client } = await connect(url, [opts.protocol ?? V4]);
    if (!client) throw new Error('not upgraded');
    const ids = {
      error: client.open({ streamType: 'error' }, true),
      ...(opts.stdin ? { stdin: client.open({ streamType: 'stdin' }) } : {}),
      stdout: client.open({ streamType: 'stdout' }, true),
      ...(!tty ? { stderr: client.open({ streamType: 'stderr' }, true) } : {}),
      ...(tty ? { resize: client.open({ streamType: 'resize' }) } : {}),
    };
    return { client, ids };
  }

  it('sends stdout and stderr apart, then a Success status, and closes', async () => {
    const { client, ids } = await execSession(['echo', 'hello', 'world']);
    await client.until(() => client.stream(ids.error).finished);
    expect(client.stream(ids.stdout).replied).toBe(true);
    expect(client.stream(ids.stdout).data.toString()).toBe('hello world\n');
    expect(client.stream(ids.stderr!).data.toString()).toBe('to stderr\n');
    expect(client.stream(ids.stdout).finished).toBe(true);
    expect(JSON.parse(client.stream(ids.error).data.toString())).toEqual({ metadata: {}, status: 'Success' });
    expect(await client.until(() => client.closed)).toBe(true);
    expect(client.goAway).toBe(true);
  });

  it('reports a non-zero exit code as NonZeroExitCode with an ExitCode cause (v4)', async () => {
    const { client, ids } = await execSession(['exit', '3']);
    await client.until(() => client.stream(ids.error).finished);
    const status = JSON.parse(client.stream(ids.error).data.toString());
    expect(status.status).toBe('Failure');
    expect(status.reason).toBe('NonZeroExitCode');
    expect(status.details.causes).toEqual([{ reason: 'ExitCode', message: '3' }]);
  });

  it('reports a runtime failure as an InternalError naming it', async () => {
    const { client, ids } = await execSession(['echo'], { containerId: 'stopped' });
    await client.until(() => client.stream(ids.error).finished);
    const status = JSON.parse(client.stream(ids.error).data.toString());
    expect(status.reason).toBe('InternalError');
    expect(status.message).toContain('container stopped is not running');
  });

  it('v1-v3 carry no status on success and the plain message on failure', async () => {
    const ok = await execSession(['echo', 'x'], { protocol: 'v3.channel.k8s.io' });
    await ok.client.until(() => ok.client.stream(ok.ids.error).finished);
    expect(ok.client.stream(ok.ids.error).data.length).toBe(0);
    const bad = await execSession(['exit', '2'], { protocol: 'v2.channel.k8s.io' });
    await bad.client.until(() => bad.client.stream(bad.ids.error).finished);
    expect(bad.client.stream(bad.ids.error).data.toString()).toMatch(/non-zero exit code/);
  });

  it('feeds the client\'s stdin to the command until its FIN', async () => {
    const { client, ids } = await execSession(['cat'], { stdin: true });
    await client.until(() => client.stream(ids.stdin!).replied);
    client.send(ids.stdin!, 'line one\n');
    client.send(ids.stdin!, 'line two\n', true);
    await client.until(() => client.stream(ids.error).finished);
    expect(client.stream(ids.stdout).data.toString()).toBe('line one\nline two\n');
  });

  it('with a tty, passes the resize stream\'s sizes on in order', async () => {
    const { client, ids } = await execSession(['sizes'], { tty: true });
    await client.until(() => client.stream(ids.resize!).replied);
    client.send(ids.resize!, '{"Width":80,"Height":24}');
    client.send(ids.resize!, '{"Width":132,');
    client.send(ids.resize!, '"Height":43}');
    await client.until(() => client.stream(ids.error).finished);
    expect(JSON.parse(client.stream(ids.stdout).data.toString())).toEqual([
      { width: 80, height: 24 },
      { width: 132, height: 43 },
    ]);
  });

  it('a client that goes away aborts the session', async () => {
    const { client, ids } = await execSession(['hang']);
    await client.until(() => client.stream(ids.stdout).replied && client.stream(ids.error).replied);
    client.close();
    await expect.poll(() => runtime.aborted).toBe(1);
  });

  it('answers pings', async () => {
    const { client, ids } = await execSession(['hang']);
    await client.until(() => client.stream(ids.error).replied);
    client.ping(7);
    await client.until(() => client.pings.includes(7));
    expect(client.pings).toEqual([7]);
  });

  it('closing the server aborts live sessions', async () => {
    const { client, ids } = await execSession(['hang']);
    await client.until(() => client.stream(ids.error).replied && client.stream(ids.stderr!).replied);
    await server?.close();
    server = undefined;
    await expect.poll(() => runtime.aborted).toBe(1);
    expect(await client.until(() => client.closed)).toBe(true);
  });

  it('gives up on a client that does not open its streams in time', async () => {
    const s = await start({ streamCreationTimeoutMs: 50 });
    const { url } = s.getExec({ containerId: 'c', cmd: ['echo'], tty: false, stdin: false, stdout: true, stderr: false });
    const { client } = await connect(url);
    client!.open({ streamType: 'error' });
    expect(await client!.until(() => false)).toBe(false);
    expect(client!.closed).toBe(true);
  });
});

describe('attach', () => {
  it('streams the container\'s output and the client\'s input, then Success', async () => {
    const s = await start();
    const { url } = s.getAttach({ containerId: 'c1', tty: false, stdin: true, stdout: true, stderr: false });
    const { client } = await connect(url);
    const err = client!.open({ streamType: 'error' }, true);
    const stdin = client!.open({ streamType: 'stdin' });
    const stdout = client!.open({ streamType: 'stdout' }, true);
    await client!.until(() => client!.stream(stdout).data.length > 0);
    client!.send(stdin, 'typed\n', true);
    await client!.until(() => client!.stream(err).finished);
    expect(client!.stream(stdout).data.toString()).toBe('attached\ntyped\n');
    expect(JSON.parse(client!.stream(err).data.toString()).status).toBe('Success');
  });

  it('an unknown container is an error on the error stream', async () => {
    const s = await start();
    const { url } = s.getAttach({ containerId: 'missing', tty: false, stdin: false, stdout: true, stderr: false });
    const { client } = await connect(url);
    const err = client!.open({ streamType: 'error' }, true);
    client!.open({ streamType: 'stdout' }, true);
    await client!.until(() => client!.stream(err).finished);
    expect(JSON.parse(client!.stream(err).data.toString()).message).toContain('error attaching to container: container missing not found');
  });
});

describe('port-forward', () => {
  async function echoServer(): Promise<number> {
    const srv = net.createServer((sock) => {
      sock.on('data', (d) => sock.write(`echo:${d.toString()}`));
      sock.on('end', () => sock.end());
    });
    extraServers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    return (srv.address() as net.AddressInfo).port;
  }

  it('connects each data/error pair to the port in the pod and carries bytes both ways', async () => {
    const s = await start();
    runtime.targetPort = await echoServer();
    const { url } = s.getPortForward({ podSandboxId: 'pod1', ports: [8080] });
    const { client, response } = await connect(url, ['portforward.k8s.io']);
    expect(response.headers['x-stream-protocol-version']).toEqual(['portforward.k8s.io']);
    for (const requestId of ['0', '1']) {
      const err = client!.open({ streamType: 'error', port: '8080', requestID: requestId }, true);
      const data = client!.open({ streamType: 'data', port: '8080', requestID: requestId });
      await client!.until(() => client!.stream(data).replied);
      client!.send(data, `ping${requestId}`);
      await client!.until(() => client!.stream(data).data.length > 0);
      expect(client!.stream(data).data.toString()).toBe(`echo:ping${requestId}`);
      client!.finish(data);
      await client!.until(() => client!.stream(err).finished && client!.stream(data).finished);
      expect(client!.stream(err).data.length).toBe(0);
    }
    expect(runtime.forwards).toEqual([
      { sandbox: 'pod1', port: 8080 },
      { sandbox: 'pod1', port: 8080 },
    ]);
    expect(client!.closed).toBe(false);
  });

  it('a port that cannot be reached is a message on that pair\'s error stream', async () => {
    const s = await start();
    const { url } = s.getPortForward({ podSandboxId: 'pod1', ports: [1] });
    const { client } = await connect(url, ['portforward.k8s.io']);
    const err = client!.open({ streamType: 'error', port: '1', requestID: '0' }, true);
    const data = client!.open({ streamType: 'data', port: '1', requestID: '0' });
    await client!.until(() => client!.stream(err).finished && client!.stream(data).finished);
    expect(client!.stream(err).data.toString()).toBe('error forwarding port 1 to pod pod1, uid : connect ECONNREFUSED 127.0.0.1:1');
  });

  it('refuses streams without a valid port or type', async () => {
    const s = await start();
    const { url } = s.getPortForward({ podSandboxId: 'pod1', ports: [] });
    const { client } = await connect(url, ['portforward.k8s.io']);
    const noPort = client!.open({ streamType: 'data', requestID: '0' });
    const badType = client!.open({ streamType: 'stdout', port: '80', requestID: '1' });
    const zero = client!.open({ streamType: 'data', port: '0', requestID: '2' });
    await client!.until(() => [noPort, badType, zero].every((id) => client!.stream(id).reset !== undefined));
    expect(client!.stream(noPort).reset).toBe(RstStatus.Cancel);
    expect(runtime.forwards).toEqual([]);
  });

  it('pairs streams of clients without requestID by stream id', async () => {
    const s = await start();
    runtime.targetPort = await echoServer();
    const { url } = s.getPortForward({ podSandboxId: 'pod1', ports: [] });
    const { client } = await connect(url, ['portforward.k8s.io']);
    const err = client!.open({ streamType: 'error', port: '80' }, true);
    const data = client!.open({ streamType: 'data', port: '80' });
    await client!.until(() => client!.stream(data).replied);
    client!.send(data, 'x', true);
    await client!.until(() => client!.stream(err).finished && client!.stream(data).finished);
    expect(client!.stream(data).data.toString()).toBe('echo:x');
  });
});
