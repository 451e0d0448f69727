// The runtime side of kubelet's streaming server (@berth/cri-streaming): what
// a client that opened an Exec/Attach/PortForward URL gets. Exec and attach
// are the engine's Exec and Attach streams with the client's stdin, terminal
// sizes and output wired through; port-forward connects to the pod's address
// (its sandbox's IP on the pod network; 127.0.0.1 for a pod on the host's
// network).
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { FailedPreconditionError, UnavailableError } from '@berth/errors';
import type { StreamingIo, StreamingRuntime } from '@berth/cri-streaming';
import type { engineV1 } from '@berth/proto';
import { LONG_CALL, type Backends } from './backends';
import type { CriContainers } from './containers';
import type { PodSandboxes } from './sandboxes';

type BidiCall<Req> = { write(m: Req): boolean; end(): void; on(ev: string, f: (...a: never[]) => void): unknown; cancel(): void };

/** Feeds the client's stdin and terminal sizes into an engine stream until it ends. */
function pump<Req>(call: BidiCall<Req>, io: StreamingIo, stdin: (b: Buffer) => Req, closeStdin: Req, resize: (w: number, h: number) => Req): void {
  if (io.stdin) {
    io.stdin.on('data', (b: Buffer) => call.write(stdin(b)));
    io.stdin.on('end', () => call.write(closeStdin));
  }
  if (io.tty) {
    void (async () => {
      for await (const size of io.resize) call.write(resize(size.width, size.height));
    })().catch(() => undefined);
  }
}

function output(io: StreamingIo, frame: { stream: string; data: Buffer } | null | undefined): void {
  if (!frame) return;
  const to = frame.stream === 'stderr' && !io.tty ? io.stderr : io.stdout;
  to?.write(frame.data);
}

export function streamingRuntime(b: Backends, pods: PodSandboxes, containers: CriContainers): StreamingRuntime {
  return {
    async exec(containerId, cmd, io) {
      const c = await containers.get(containerId);
      const call = b.engine.Exec({ signal: io.signal, ...LONG_CALL }) as unknown as BidiCall<engineV1.ExecRequest>;
      const done = new Promise<number>((resolve, reject) => {
        let code: number | undefined;
        call.on('data', (m: engineV1.ExecResponse__Output) => {
          if (m.msg === 'output') output(io, m.output);
          else if (m.msg === 'exitCode') code = m.exitCode ?? 0;
        });
        call.on('error', reject);
        call.on('end', () => (code === undefined ? reject(new FailedPreconditionError(`exec in container ${c.id} ended without an exit code`)) : resolve(code)));
      });
      call.write({ start: { id: c.id, args: cmd, env: [], workingDir: '', user: '', tty: io.tty, stdin: !!io.stdin, detach: false, privileged: false } });
      pump(call, io, (stdin) => ({ stdin }), { closeStdin: true }, (width, height) => ({ resize: { width, height } }));
      return done;
    },

    async attach(containerId, io) {
      const c = await containers.get(containerId);
      const call = b.engine.Attach({ signal: io.signal, ...LONG_CALL }) as unknown as BidiCall<engineV1.AttachRequest>;
      const done = new Promise<void>((resolve, reject) => {
        call.on('data', (m: engineV1.AttachResponse__Output) => {
          if (m.msg === 'output') output(io, m.output);
        });
        call.on('error', (e: Error) => (io.signal.aborted ? resolve() : reject(e)));
        call.on('end', () => resolve());
      });
      call.write({ start: { id: c.id, stdin: !!io.stdin, stdout: !!io.stdout, stderr: !!io.stderr, logs: false, detachKeys: '' } });
      pump(call, io, (stdin) => ({ stdin }), { closeStdin: true }, (width, height) => ({ resize: { width, height } }));
      return done;
    },

    async portForward(podSandboxId, port, stream: Duplex, signal) {
      const pod = await pods.get(podSandboxId);
      if (pod.summary.state !== 'running') throw new FailedPreconditionError(`pod sandbox ${pod.id} is not ready: nothing to forward to`);
      const host = pod.record.hostNetwork ? '127.0.0.1' : (await pods.podIp(pod.id));
      if (!host) throw new UnavailableError(`pod sandbox ${pod.id} has no address to forward port ${port} to`);
      const sock = connect({ host, port });
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', (e) => reject(new UnavailableError(`port ${port} of pod sandbox ${pod.id} (${host}): ${e.message}`)));
      });
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          sock.destroy();
          resolve();
        };
        signal.addEventListener('abort', finish, { once: true });
        sock.on('close', finish);
        sock.on('error', finish);
        stream.on('error', finish);
        stream.pipe(sock);
        sock.pipe(stream);
      });
    },
  };
}
