// The healthcheck's probe runner (health.ts ProbeRunner) over the engine's
// exec and the namespaces service: the probe is an ordinary exec (so
// exec_started/exec_died are announced, as Docker announces a probe's
// exec_create/exec_start/exec_die), its stdout and stderr read through the
// namespaces Attach into a buffer that keeps MAX_PROBE_OUTPUT bytes and drops
// the rest as it arrives (a probe printing without end costs no memory), and
// past its timeout the process is SIGKILLed through Signal{exec_id} and the
// result is Docker's timeout message. The timeout counts from the exec's
// start, not from the request (moby does the same: starting an exec can take
// a while and is not the probe's time).
import type { namespacesV1 } from '@berth/proto';
import type { ExecRequest } from '../engine';
import { BoundedOutput, timeoutOutput, type ProbeResult, type ProbeRunner } from '../health';
import type { NamespacesClient } from './namespaces';

/** How long a killed probe may take to report its exit before the runner stops waiting. */
const KILL_GRACE_MS = 5000;

export type ProbeExec = (id: string, req: ExecRequest) => Promise<{ execId: string; exitCode: Promise<number> }>;

export function grpcProbeRunner(exec: ProbeExec, ns: Pick<NamespacesClient, 'Attach' | 'Signal'>): ProbeRunner {
  return {
    async run(id: string, args: string[], timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
      const { execId, exitCode } = await exec(id, { args, tty: false, stdin: false });
      const output = new BoundedOutput();
      const attach = new AbortController();
      const up = ns.Attach({ signal: attach.signal });
      up.write({ target: { id, execId, logs: false } });
      // Output until the exec ends (its exit frame or the stream's end); errors end it too (the exit code decides).
      const drained = new Promise<void>((resolve) => {
        up.on('data', (o: namespacesV1.AttachOutput__Output) => {
          if (o.stdout) output.write(o.stdout);
          else if (o.stderr) output.write(o.stderr);
        });
        up.on('end', () => resolve());
        up.on('error', () => resolve());
      });
      const kill = (): void => {
        ns.Signal({ id, execId, signal: 'SIGKILL', all: false }).catch(() => undefined);
      };
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
      const abandoned = new Promise<'abandoned'>((resolve) => {
        if (signal.aborted) resolve('abandoned');
        signal.addEventListener('abort', () => resolve('abandoned'), { once: true });
      });
      try {
        const first = await Promise.race([exitCode.then((code) => ({ code })), timedOut, abandoned]);
        if (first === 'timeout' || first === 'abandoned') {
          kill();
          // Wait (bounded) for the killed probe to be reaped: dying probes must not pile up.
          await Promise.race([exitCode.catch(() => undefined), new Promise((r) => setTimeout(r, KILL_GRACE_MS).unref())]);
          if (first === 'abandoned') throw new Error(`healthcheck of container ${id} abandoned: the container stopped`);
          await Promise.race([drained, new Promise((r) => setTimeout(r, 100).unref())]);
          return { exitCode: -1, output: timeoutOutput(timeoutMs, output.toString()) };
        }
        // The exit frame follows the last output; the stream ends right after it.
        await Promise.race([drained, new Promise((r) => setTimeout(r, KILL_GRACE_MS).unref())]);
        return { exitCode: first.code, output: output.toString() };
      } finally {
        clearTimeout(timer);
        up.end();
        attach.abort();
      }
    },
  };
}
