// `berth daemon up|down|status`: the stack in the background.
//   up        one berthd process hosting every service (default), or with
//             split one process per service; plus a private nats-server when
//             none is reachable. Returns when every service is SERVING.
//   down      SIGTERM to each process berth started (by pid, checked against
//             its command line), SIGKILL after a deadline.
//   status    each service's health, pid, socket, metrics URL and version.
// What was started is recorded in <BERTH_RUN>/daemon.json.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FailedPreconditionError, UnavailableError } from '@berth/errors';
import {
  SERVICE_NAMES, GRPC_SERVICE, berthPaths, createClient, infoPath, socketPath, waitServing,
  type BerthPaths, type ServiceInfo, type ServiceName,
} from '@berth/kit';
import { resolveNats } from './nats';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/**
 * V8 flags for service processes. A 1 MiB semi-space keeps the young
 * generation from holding ~30 MiB of RSS per process after start-up bursts;
 * a control plane's allocation rate does not need more (measured in
 * bench/suites/daemon.js). npm start and deploy/systemd use the same.
 */
export const NODE_FLAGS = ['--max-semi-space-size=1'];

export interface DaemonRecord {
  layout: 'all-in-one' | 'split';
  natsUrl: string;
  natsPid?: number;
  processes: { name: string; pid: number; script: string }[];
  startedAt: string;
}

const recordPath = (paths: BerthPaths) => join(paths.run, 'daemon.json');

export function readDaemonRecord(paths: BerthPaths = berthPaths()): DaemonRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(paths), 'utf8')) as DaemonRecord;
  } catch {
    return undefined;
  }
}

/** The entry point of an app, built by `nx run <app>:build`. */
export function appScript(app: string): string {
  return join(REPO_ROOT, 'apps', app, 'dist', 'main.js');
}

function alive(pid: number, script?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!script) return true;
  try {
    // Guard against a recycled pid: only signal a process running our script.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(script);
  } catch {
    return false;
  }
}

export interface UpOptions {
  split?: boolean;
  paths?: BerthPaths;
  services?: readonly ServiceName[];
  timeoutMs?: number;
  /** Extra environment for the service processes. */
  env?: NodeJS.ProcessEnv;
}

export interface UpResult {
  record: DaemonRecord;
  /** Milliseconds from spawning to every service SERVING. */
  readyMs: number;
}

export async function daemonUp(opts: UpOptions = {}): Promise<UpResult> {
  const paths = opts.paths ?? berthPaths();
  const services = opts.services ?? SERVICE_NAMES;
  const existing = readDaemonRecord(paths);
  if (existing && existing.processes.some((p) => alive(p.pid, p.script))) {
    throw new FailedPreconditionError(`the berth stack is already running (${recordPath(paths)}); run 'berth daemon down' first`);
  }
  mkdirSync(paths.run, { recursive: true });
  mkdirSync(paths.root, { recursive: true });
  const logDir = join(paths.run, 'logs');
  mkdirSync(logDir, { recursive: true });
  const t0 = Date.now();
  const nats = await resolveNats(paths, { detached: true });
  const env = { ...process.env, ...opts.env, BERTH_ROOT: paths.root, BERTH_RUN: paths.run, NATS_URL: nats.url };
  const launch = (name: string, script: string, args: string[]) => {
    if (!existsSync(script)) throw new FailedPreconditionError(`${script} is not built: run 'npm run build' first`);
    const fd = openSync(join(logDir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [...NODE_FLAGS, script, ...args], { detached: true, stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    child.unref();
    return { name, pid: child.pid!, script };
  };
  const processes = opts.split
    ? services.map((s) => launch(s, appScript(s), []))
    : [launch('berthd', appScript('berthd'), ['--services', services.join(',')])];
  const record: DaemonRecord = {
    layout: opts.split ? 'split' : 'all-in-one',
    natsUrl: nats.url,
    ...(nats.process?.pid ? { natsPid: nats.process.pid } : {}),
    processes,
    startedAt: new Date().toISOString(),
  };
  writeRecord(paths, record);
  try {
    await Promise.all(services.map((s) => waitServing([`unix:${socketPath(s, paths)}`], GRPC_SERVICE[s], opts.timeoutMs ?? 60_000)));
  } catch (e) {
    const tails = processes.map((p) => `--- ${p.name} log ---\n${tail(join(logDir, `${p.name}.log`))}`).join('\n');
    await daemonDown({ paths }).catch(() => undefined);
    throw new UnavailableError(`the stack did not become ready: ${(e as Error).message}\n${tails}`);
  }
  return { record, readyMs: Date.now() - t0 };
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function writeRecord(paths: BerthPaths, record: DaemonRecord): void {
  const p = recordPath(paths);
  writeFileSync(`${p}.tmp`, JSON.stringify(record, null, 2) + '\n');
  renameSync(`${p}.tmp`, p);
}

async function terminate(pid: number, script: string | undefined, timeoutMs: number): Promise<void> {
  if (!alive(pid, script)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(pid, script)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops what `daemonUp` started. Containers keep running (their monitors own them). */
export async function daemonDown(opts: { paths?: BerthPaths; timeoutMs?: number } = {}): Promise<boolean> {
  const paths = opts.paths ?? berthPaths();
  const record = readDaemonRecord(paths);
  if (!record) return false;
  await Promise.all(record.processes.map((p) => terminate(p.pid, p.script, opts.timeoutMs ?? 15_000)));
  if (record.natsPid) await terminate(record.natsPid, 'nats-server', opts.timeoutMs ?? 15_000).catch(() => undefined);
  rmSync(recordPath(paths), { force: true });
  return true;
}

export interface ServiceStatus {
  name: ServiceName;
  health: 'SERVING' | 'NOT_SERVING' | 'UNREACHABLE' | 'UNKNOWN';
  pid?: number;
  socket: string;
  metricsUrl?: string;
  version?: string;
}

export async function daemonStatus(paths: BerthPaths = berthPaths()): Promise<ServiceStatus[]> {
  return Promise.all(
    SERVICE_NAMES.map(async (name): Promise<ServiceStatus> => {
      const socket = socketPath(name, paths);
      let info: ServiceInfo | undefined;
      try {
        info = JSON.parse(readFileSync(infoPath(name, paths), 'utf8')) as ServiceInfo;
      } catch {
        info = undefined;
      }
      let health: ServiceStatus['health'] = 'UNREACHABLE';
      if (existsSync(socket)) {
        const c = createClient<Record<string, never>, Record<string, never>>('grpc.health.v1.Health', [`unix:${socket}`], { timeoutMs: 1500 });
        try {
          const r = await (c as unknown as { Check(req: { service: string }): Promise<{ status: string }> }).Check({ service: GRPC_SERVICE[name] });
          health = r.status === 'SERVING' ? 'SERVING' : r.status === 'NOT_SERVING' ? 'NOT_SERVING' : 'UNKNOWN';
        } catch {
          health = 'UNREACHABLE';
        } finally {
          c.close();
        }
      }
      return {
        name, health, socket,
        ...(info?.pid ? { pid: info.pid } : {}),
        ...(info?.metricsUrl ? { metricsUrl: info.metricsUrl } : {}),
        ...(info?.version ? { version: info.version } : {}),
      };
    }),
  );
}
