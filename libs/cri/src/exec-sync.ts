// ExecSync: a command run to its end in a running container through the
// engine's Exec stream, its output collected. The output kept is bounded
// (MAX_OUTPUT per stream, as kubelet's probes need little); past it the rest
// is dropped. With a timeout the call ends at the deadline: the process is
// killed (namespaces Signal with its exec id) and the exec stream cancelled.
import { BerthError, ErrorCode } from '@berth/errors';
import type { engineV1 } from '@berth/proto';
import { LONG_CALL, type Backends } from './backends';

/** Bytes of stdout and of stderr kept (16 MiB, containerd's cap too). */
export const MAX_OUTPUT = 16 << 20;

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export async function execSync(b: Backends, id: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult> {
  const ac = new AbortController();
  const call = b.engine.Exec({ signal: ac.signal, ...LONG_CALL });
  const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  const size = { stdout: 0, stderr: 0 };
  let timer: NodeJS.Timeout | undefined;
  let execId = '';
  const done = new Promise<number>((resolve, reject) => {
    let code: number | undefined;
    call.on('data', (m: engineV1.ExecResponse__Output) => {
      if (m.msg === 'started' && m.started) execId = m.started;
      else if (m.msg === 'output' && m.output) {
        const stream = m.output.stream === 'stderr' ? 'stderr' : 'stdout';
        if (size[stream] < MAX_OUTPUT) {
          const piece = m.output.data.subarray(0, MAX_OUTPUT - size[stream]);
          out[stream].push(piece);
          size[stream] += piece.length;
        }
      } else if (m.msg === 'exitCode') code = m.exitCode ?? 0;
    });
    call.on('error', reject);
    call.on('end', () => (code === undefined ? reject(new Error(`exec in container ${id} ended without an exit code`)) : resolve(code)));
    if (timeoutSeconds > 0) {
      timer = setTimeout(() => {
        // The process must not outlive the call (kubelet's probes would pile up).
        const kill = execId ? b.namespaces.Signal({ id, signal: 'SIGKILL', all: false, execId }).catch(() => undefined) : Promise.resolve();
        void kill.finally(() => ac.abort());
        reject(new BerthError(ErrorCode.DeadlineExceeded, `command ${JSON.stringify(cmd)} in container ${id} timed out after ${timeoutSeconds}s`));
      }, timeoutSeconds * 1000);
    }
  });
  call.write({ start: { id, args: cmd, env: [], workingDir: '', user: '', tty: false, stdin: false, detach: false, privileged: false } });
  call.end();
  try {
    const exitCode = await done;
    return { stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr), exitCode };
  } finally {
    if (timer) clearTimeout(timer);
  }
}
