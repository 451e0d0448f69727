// Starting berth-monitor and reading its create outcome (the sync channel).
// The monitor daemonizes; the process Node spawns exits at once, and the
// daemon keeps our stdout pipe until it knows whether `shim create` worked,
// then writes one JSON line and closes it. So "stdout ended" == "create is
// decided", whatever happens to the Node side afterwards.
import { Socket } from 'node:net';
import { spawnHelper, waitpidNoHang, type WaitStatus } from '@berth/sys';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { FailedPreconditionError, InternalError, NotFoundError } from '@berth/errors';

/** The berth-monitor binary: $BERTH_MONITOR, else native/build in this checkout. */
export function monitorBinaryPath(): string {
  return process.env.BERTH_MONITOR ?? resolve(__dirname, '../../../native/build/berth-monitor');
}

export interface MonitorArgs {
  stateDir: string;
  /** The shim's create command line, absolute binary first. */
  shimArgv: string[];
  terminal: boolean;
  stdin: boolean;
  logPath?: string;
  logMaxSize?: number;
  logMaxFiles?: number;
  /** Cgroup files with an "oom_kill N" counter (memory.events, memory.oom_control). */
  oomFiles?: string[];
}

/** All of a pipe's read end (epoll through a net.Socket, not a threadpool read), then closed. */
function readPipe(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = new Socket({ fd, readable: true, writable: false });
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.once('error', reject);
    sock.once('close', () => resolve(text));
  });
}

/**
 * Reaps the spawned monitor (it daemonizes: this first process exits at
 * once, before the outcome is written, so this is normally immediate).
 * libuv reaps only what it spawned itself.
 */
async function reapHelper(pid: number): Promise<WaitStatus> {
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    let st: WaitStatus | null;
    try {
      st = waitpidNoHang(pid);
    } catch (e) {
      // ECHILD: reaped already (SIGCHLD ignored, or a reaper of the host's); the outcome is on stdout anyway.
      if ((e as { errno?: string }).errno === 'ECHILD') return { pid, code: null, signal: null };
      throw e;
    }
    if (st) return st;
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Runs berth-monitor; resolves with the init's pid once it exists and waits. */
export async function startMonitor(args: MonitorArgs): Promise<number> {
  const bin = monitorBinaryPath();
  if (!existsSync(bin)) throw new NotFoundError(`berth-monitor not found at ${bin}: run \`make -C native\` or set BERTH_MONITOR`);
  const argv = [args.stateDir];
  if (args.logPath) argv.push('--log-path', args.logPath);
  if (args.logMaxSize !== undefined) argv.push('--log-max-size', String(args.logMaxSize));
  if (args.logMaxFiles !== undefined) argv.push('--log-max-files', String(args.logMaxFiles));
  for (const f of args.oomFiles ?? []) argv.push('--oom-file', f);
  if (args.terminal) argv.push('--terminal');
  if (args.stdin) argv.push('--stdin');
  argv.push('--', ...args.shimArgv);

  // posix_spawn on a worker thread, not child_process.spawn: libuv forks the
  // whole (large) Node process, which held the event loop 3-40 ms per
  // container, and even a vfork holds its caller until the child execs (@berth/sys spawn.ts).
  const env = Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  const child = await spawnHelper(bin, [bin, ...argv], env);
  // Both pipes must end: the daemon holds stdout until the outcome is
  // written, and moved stderr to monitor.log right after forking.
  const [out, err] = await Promise.all([readPipe(child.stdoutFd), readPipe(child.stderrFd)]);
  const code = (await reapHelper(child.pid)).code;
  const line = out.trim();
  if (!line) {
    throw new InternalError(`berth-monitor exited ${code} without reporting create: ${err.trim() || 'no message'}`);
  }
  let result: { pid?: unknown; error?: unknown };
  try {
    result = JSON.parse(line);
  } catch (e) {
    throw new InternalError(`berth-monitor reported ${JSON.stringify(line.slice(0, 200))}, not JSON`, { cause: e });
  }
  if (typeof result.pid === 'number') return result.pid;
  // The shim's one-line error: it tells the user what was wrong with the
  // spec or the host; there is nothing the caller can retry blindly.
  throw new FailedPreconditionError(String(result.error ?? 'create failed without a message'));
}
