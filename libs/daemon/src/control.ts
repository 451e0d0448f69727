// `berth daemon up|down|status`: the stack in the background.
//   up        one berthd process hosting every service (default), or with
//             split one process per service; plus a private nats-server when
//             none is reachable. The processes are started, and restarted
//             when they die, by the supervisor (supervisor.ts), a process of
//             its own. Returns when every service is SERVING. On a stack
//             that is partly up (a service was killed, or the supervisor),
//             starts only what is missing, in the layout it runs in.
//   down      the supervisor first (so nothing is restarted), then SIGTERM to
//             each process berth started (by pid, checked against its command
//             line), SIGKILL after a deadline.
//   status    each service's health, pid, socket, metrics URL and version.
// What was started is recorded in <BERTH_RUN>/daemon.json (mode 0600).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FailedPreconditionError, UnavailableError } from '@berth/errors';
import {
  SERVICE_NAMES, GRPC_SERVICE, berthPaths, createClient, infoPath, prepareStateRoot, socketPath, waitServing,
  type BerthPaths, type ServiceInfo, type ServiceName,
} from '@berth/kit';
import { natsEnv, resolveNats } from './nats';
import { NODE_FLAGS, processAlive, readRecordFile, recordFile, writeRecordFile, type StackProcess, type SupervisedRecord } from './supervisor';

export { NODE_FLAGS };

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export interface DaemonRecord {
  layout: 'all-in-one' | 'split';
  natsUrl: string;
  natsPid?: number;
  /** The services the stack hosts (all six unless daemon up was given a subset). */
  services?: ServiceName[];
  /** The supervisor that starts and restarts `processes` (absent once it stopped). */
  supervisorPid?: number;
  processes: StackProcess[];
  startedAt: string;
}

export function readDaemonRecord(paths: BerthPaths = berthPaths()): DaemonRecord | undefined {
  return readRecordFile(paths.run) as DaemonRecord | undefined;
}

/** The entry point of an app, built by `nx run <app>:build`. */
export function appScript(app: string): string {
  return join(REPO_ROOT, 'apps', app, 'dist', 'main.js');
}

/** The supervisor's entry point (apps/berthd/src/supervise.ts). */
export function supervisorScript(): string {
  return join(REPO_ROOT, 'apps', 'berthd', 'dist', 'supervise.js');
}

const alive = processAlive;

export interface UpOptions {
  /** One process per service. Unset on a stack that is partly up: the layout it runs in. */
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
  /** The processes this call started (all of them, or on a stack that was partly up the missing ones). */
  started: string[];
  /** True when the stack was partly up and only what was missing was started. */
  healed: boolean;
  /** Why berth's own NATS server is not on 127.0.0.1:4222 (nats.ts), for the operator to see. */
  natsDisplaced?: string;
}

export async function daemonUp(opts: UpOptions = {}): Promise<UpResult> {
  const paths = opts.paths ?? berthPaths();
  const existing = readDaemonRecord(paths);
  const supervisorUp = existing?.supervisorPid !== undefined && alive(existing.supervisorPid, supervisorScript());
  if (existing && (supervisorUp || existing.processes.some((p) => alive(p.pid, p.script)))) return healStack(paths, existing, supervisorUp, opts);
  const services = opts.services ?? SERVICE_NAMES;
  mkdirSync(paths.run, { recursive: true });
  prepareStateRoot(paths); // 0700 from the start (kit state-dir.ts)
  const logDir = join(paths.run, 'logs');
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const t0 = Date.now();
  const processes: StackProcess[] = opts.split
    ? services.map((s) => ({ name: s, pid: 0, script: appScript(s), args: [] }))
    : [{ name: 'berthd', pid: 0, script: appScript('berthd'), args: ['--services', services.join(',')] }];
  for (const script of [supervisorScript(), ...processes.map((p) => p.script)]) {
    if (!existsSync(script)) throw new FailedPreconditionError(`${script} is not built: run 'npm run build' first`);
  }
  const nats = await resolveNats(paths, { detached: true });
  const record: DaemonRecord = {
    layout: opts.split ? 'split' : 'all-in-one',
    natsUrl: nats.url,
    ...(nats.process?.pid ? { natsPid: nats.process.pid } : {}),
    services: [...services],
    processes,
    startedAt: new Date().toISOString(),
  };
  writeRecordFile(paths.run, record as unknown as SupervisedRecord);
  const env = { ...process.env, ...opts.env, BERTH_ROOT: paths.root, BERTH_RUN: paths.run, ...natsEnv(paths, nats.url) };
  let supervisorPid: number | undefined;
  try {
    supervisorPid = await startSupervisor(paths, env);
    await Promise.all(services.map((s) => waitServing([`unix:${socketPath(s, paths)}`], GRPC_SERVICE[s], opts.timeoutMs ?? 60_000)));
  } catch (e) {
    const names = ['supervisor', ...processes.map((p) => p.name)];
    const tails = names.map((n) => `--- ${n} log ---\n${tail(join(logDir, `${n}.log`))}`).join('\n');
    await daemonDown({ paths }).catch(() => undefined);
    if (supervisorPid !== undefined) await terminate(supervisorPid, supervisorScript(), 5000).catch(() => undefined);
    throw new UnavailableError(`the stack did not become ready: ${(e as Error).message}\n${tails}`);
  }
  return {
    record: readDaemonRecord(paths) ?? record, readyMs: Date.now() - t0, started: processes.map((p) => p.name), healed: false,
    ...(nats.displaced ? { natsDisplaced: nats.displaced } : {}),
  };
}

/**
 * daemon up on a stack that is partly up: the supervisor starts what is
 * missing (asked with SIGUSR1 when it runs; a new one, which adopts the live
 * processes, when it was killed too). The environment is this call's (NATS
 * from the record), as the first daemon up's was: run it the same way.
 */
async function healStack(paths: BerthPaths, existing: DaemonRecord, supervisorUp: boolean, opts: UpOptions): Promise<UpResult> {
  const wanted = opts.split === undefined ? existing.layout : opts.split ? 'split' : 'all-in-one';
  if (wanted !== existing.layout) {
    throw new FailedPreconditionError(`the berth stack runs in the ${existing.layout} layout (${recordFile(paths.run)}); run 'berth daemon down' first to start it ${wanted}`);
  }
  const t0 = Date.now();
  const missing = existing.processes.filter((p) => !alive(p.pid, p.script)).map((p) => p.name);
  if (supervisorUp) process.kill(existing.supervisorPid!, 'SIGUSR1');
  else {
    const env = { ...process.env, ...opts.env, BERTH_ROOT: paths.root, BERTH_RUN: paths.run, ...natsEnv(paths, existing.natsUrl) };
    await startSupervisor(paths, env);
  }
  const services = existing.services ?? SERVICE_NAMES;
  try {
    await Promise.all(services.map((s) => waitServing([`unix:${socketPath(s, paths)}`], GRPC_SERVICE[s], opts.timeoutMs ?? 60_000)));
  } catch (e) {
    const tails = ['supervisor', ...missing].map((n) => `--- ${n} log ---\n${tail(join(paths.run, 'logs', `${n}.log`))}`).join('\n');
    throw new UnavailableError(`the stack did not become ready: ${(e as Error).message}\n${tails}`);
  }
  return { record: readDaemonRecord(paths) ?? existing, readyMs: Date.now() - t0, started: missing, healed: true };
}

/** Spawns the supervisor (detached) and waits until it has taken over the record; its pid. */
async function startSupervisor(paths: BerthPaths, env: NodeJS.ProcessEnv): Promise<number> {
  const logPath = join(paths.run, 'logs', 'supervisor.log');
  mkdirSync(join(paths.run, 'logs'), { recursive: true, mode: 0o700 });
  const fd = openSync(logPath, 'a', 0o600);
  const child = spawn(process.execPath, [...NODE_FLAGS, supervisorScript()], { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new UnavailableError(`cannot start the supervisor (${supervisorScript()})`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (readDaemonRecord(paths)?.supervisorPid === pid) return pid;
    if (!alive(pid)) throw new UnavailableError(`the supervisor exited at start:\n${tail(logPath)}`);
    if (Date.now() > deadline) throw new UnavailableError(`the supervisor (pid ${pid}) did not take over ${recordFile(paths.run)} within 15 s:\n${tail(logPath)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
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
  const first = readDaemonRecord(paths);
  if (!first) return false;
  // The supervisor first: it would restart the services stopped below. It
  // writes the pids it last spawned before it exits, so read the record again.
  if (first.supervisorPid !== undefined) await terminate(first.supervisorPid, supervisorScript(), 5000);
  const record = readDaemonRecord(paths) ?? first;
  await Promise.all(record.processes.map((p) => terminate(p.pid, p.script, opts.timeoutMs ?? 15_000)));
  if (record.natsPid) await terminate(record.natsPid, 'nats-server', opts.timeoutMs ?? 15_000).catch(() => undefined);
  rmSync(recordFile(paths.run), { force: true });
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
