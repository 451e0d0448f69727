// The streaming server against the real client: crictl v1.26.1 (client-go's SPDY executor and port
// forwarder), as kubelet's own tests drive a streaming server. A small runtime.v1 gRPC server answers
// Version and Exec/Attach/PortForward with our URLs; the runtime behind the streaming server runs
// commands on the host (child processes), so bytes, stdin EOF and exit codes are real.
import { spawn, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '@berth/errors';
import { listenAuthorityProxy } from '@berth/kit';
import { createStreamingServer } from './server';
import type { CriStreamingServer } from './server-types';
import type { StreamingIo, StreamingRuntime } from './runtime';

const repo = path.resolve(__dirname, '../../..');
// BERTH_CRICTL, else crictl from BERTH_CRI_TOOLS, from shared/tools/cri beside the repository, or where the machine keeps it (as test/support/cri-tools.ts).
const CRICTL = process.env.BERTH_CRICTL
  ?? [process.env.BERTH_CRI_TOOLS, path.resolve(repo, '../shared/tools/cri'), '/work/shared/tools/cri'].filter((d): d is string => !!d).map((d) => path.join(d, 'crictl')).find((p) => fs.existsSync(p))
  ?? path.resolve(repo, '../shared/tools/cri/crictl');

/** Runs commands as host processes: a runtime whose containers are the host. */
class HostRuntime implements StreamingRuntime {
  attached: string[] = [];
  targetPort = 0;

  exec(containerId: string, cmd: string[], io: StreamingIo): Promise<number> {
    if (containerId !== 'ctr1') return Promise.reject(new NotFoundError(`container ${containerId} not found`));
    if (cmd[0] === 'tty-probe') return this.ttyProbe(io);
    return new Promise((resolve, reject) => {
      const child = spawn(cmd[0] as string, cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      child.once('error', reject);
      if (io.stdin) io.stdin.pipe(child.stdin);
      else child.stdin.end();
      child.stdin.on('error', () => undefined);
      if (io.stdout) child.stdout.pipe(io.stdout, { end: false });
      else child.stdout.resume();
      if (io.stderr) child.stderr.pipe(io.stderr, { end: false });
      else child.stderr.resume();
      io.signal.addEventListener('abort', () => child.kill('SIGKILL'));
      child.once('close', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    });
  }

  /** With a terminal: reports the first size the client sends, then echoes keys until 'q'. */
  private async ttyProbe(io: StreamingIo): Promise<number> {
    if (!io.tty) return 2;
    for await (const size of io.resize) {
      io.stdout?.write(`size ${size.width}x${size.height}\r\n`);
      break;
    }
    for await (const chunk of io.stdin ?? []) {
      const text = String(chunk);
      io.stdout?.write(`key ${JSON.stringify(text)}\r\n`);
      if (text.includes('q')) return 0;
    }
    return 1;
  }

  async attach(containerId: string, io: StreamingIo): Promise<void> {
    this.attached.push(containerId);
    io.stdout?.write(`attached to ${containerId}\n`);
    for await (const chunk of io.stdin ?? []) io.stdout?.write(`got ${String(chunk)}`);
  }

  async portForward(_sandbox: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
    const sock = net.connect(port === 80 ? this.targetPort : port, '127.0.0.1');
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

let dir: string;
let socketPath: string;
let grpcServer: grpc.Server;
let streaming: CriStreamingServer;
let runtime: HostRuntime;
let echo: net.Server;
let proxy: net.Server;

beforeAll(async () => {
  if (!fs.existsSync(CRICTL)) {
    throw new Error(`crictl not found at ${CRICTL}: it ships in shared/tools/cri beside the repository (or set BERTH_CRICTL)`);
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-crictl-'));
  socketPath = path.join(dir, 'cri.sock');
  runtime = new HostRuntime();
  streaming = await createStreamingServer({ runtime });
  echo = net.createServer((s) => {
    s.on('data', (d) => s.write(`echo:${d.toString()}`));
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  runtime.targetPort = (echo.address() as net.AddressInfo).port;

  const def = protoLoader.loadSync(path.join(repo, 'protos/runtime/v1/api.proto'), { keepCase: false, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } } };
  grpcServer = new grpc.Server();
  const unary = <Req, Res>(f: (req: Req) => Res): grpc.handleUnaryCall<Req, Res> => (call, cb) => {
    try {
      cb(null, f(call.request));
    } catch (err) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
    }
  };
  type ExecReq = { containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean };
  type AttachReq = { containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean };
  grpcServer.addService(pkg.runtime.v1.RuntimeService.service, {
    Version: unary(() => ({ version: '0.1.0', runtimeName: 'berth-test', runtimeVersion: '0', runtimeApiVersion: 'v1' })),
    Exec: unary((r: ExecReq) => streaming.getExec(r)),
    Attach: unary((r: AttachReq) => streaming.getAttach(r)),
    PortForward: unary((r: { podSandboxId: string; port: number[] }) => streaming.getPortForward({ podSandboxId: r.podSandboxId, ports: r.port })),
  });
  await new Promise<void>((resolve, reject) =>
    grpcServer.bindAsync(`unix://${socketPath}.inner`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  // crictl sends the socket path as :authority, which Node's http2 refuses (libs/kit uds-authority.ts)
  proxy = await listenAuthorityProxy(socketPath, `${socketPath}.inner`);
});

afterAll(async () => {
  proxy?.close();
  grpcServer?.forceShutdown();
  await streaming?.close();
  echo?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function crictl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      CRICTL,
      ['--runtime-endpoint', `unix://${socketPath}`, '--image-endpoint', `unix://${socketPath}`, '--timeout', '20s', ...args],
      { timeout: 60_000, env: { ...process.env, HOME: dir } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

describe('crictl against the streaming server', () => {
  it('exec: output and exit status come through', async () => {
    const ok = await crictl(['exec', 'ctr1', 'sh', '-c', 'echo out; echo err >&2']);
    expect(ok.stdout).toBe('out\n');
    expect(ok.stderr).toContain('err\n');
    expect(ok.code).toBe(0);
    const failed = await crictl(['exec', 'ctr1', 'sh', '-c', 'exit 3']);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/exit code 3|exit status 3/);
  });

  it('exec -i: stdin reaches the command and its EOF ends it', async () => {
    const res = await crictl(['exec', '-i', 'ctr1', 'sh', '-c', 'tr a-z A-Z; echo done'], 'hello\nthere\n');
    expect(res.stdout).toBe('HELLO\nTHERE\ndone\n');
    expect(res.code).toBe(0);
  });

  it('exec -it: the terminal size and keys arrive (a pty on crictl\'s side)', async () => {
    const bridge = path.join(repo, 'test/fixtures/pty_bridge.py');
    const child = spawn('/usr/bin/python3', [bridge, '30', '100', CRICTL, '--runtime-endpoint', `unix://${socketPath}`, 'exec', '-it', 'ctr1', 'tty-probe'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    child.stderr.on('data', (d) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    try {
      await expect.poll(() => out, { timeout: 20_000 }).toContain('size 100x30');
      child.stdin.write('a');
      await expect.poll(() => out, { timeout: 20_000 }).toContain('key "a"');
      child.stdin.write('q');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('exec: a runtime error is crictl\'s error', async () => {
    const res = await crictl(['exec', 'nosuch', 'true']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('container nosuch not found');
  });

  it('attach -i: output and input', async () => {
    const res = await crictl(['attach', '-i', 'ctr1'], 'ping\n');
    expect(res.stdout).toBe('attached to ctr1\ngot ping\n');
    expect(runtime.attached).toContain('ctr1');
  });

  it('port-forward: a local port reaches the port in the pod', async () => {
    const local = await freePort();
    const child = spawn(CRICTL, ['--runtime-endpoint', `unix://${socketPath}`, 'port-forward', 'pod1', `${local}:80`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (d) => (out += d.toString()));
      child.stderr.on('data', (d) => (out += d.toString()));
      await expect.poll(() => out, { timeout: 20_000 }).toMatch(/Forwarding from/);
      for (const word of ['first', 'second']) {
        const reply = await talk(local, word);
        expect(reply).toBe(`echo:${word}`);
      }
    } finally {
      child.kill('SIGTERM');
    }
  });
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function talk(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text));
    let got = '';
    sock.on('data', (d) => {
      got += d.toString();
      if (got.length >= text.length + 5) {
        sock.end();
        resolve(got);
      }
    });
    sock.on('error', reject);
  });
}
