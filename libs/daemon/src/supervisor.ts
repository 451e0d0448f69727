// The supervisor: what systemd's Restart= does for deploy/systemd, for the
// stack `berth daemon up` starts. One small process (apps/berthd/dist/
// supervise.js) spawns the stack's service processes (six in the split
// layout, one berthd all-in-one), and restarts any that dies without being
// asked to, with backoff: 100 ms, doubled for each death within 10 s of its
// start, at most 30 s; a process that ran 10 s or more starts again at 100 ms.
//
// Why a process of its own, not a part of berthd: a supervisor inside a
// service process dies with it, and "kill -9 of any one service heals"
// covers that process too. It hosts nothing (no gRPC, no NATS, no koffi:
// node builtins only), so there is little in it to crash. If it is killed
// itself the services keep running; `berth daemon up` starts a new one,
// which adopts the live processes (polled, as they are not its children)
// and starts the missing ones.
//
// The record (<BERTH_RUN>/daemon.json) is the contract with daemon up/down:
// the supervisor writes its own pid and every pid it spawns there, at once
// (synchronously, so a SIGTERM never finds a spawned pid unrecorded).
// SIGTERM/SIGINT: stop supervising and exit; the services are left running
// for daemon down to stop by the record. SIGUSR1 (sent by daemon up): start
// every missing process now, forgetting the backoff.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A process of the stack as the record keeps it. */
export interface StackProcess {
  /** Service name, or "berthd" for the all-in-one process. */
  name: string;
  /** 0 while not started. */
  pid: number;
  /** The app's entry point (also checked against /proc/<pid>/cmdline, against recycled pids). */
  script: string;
  args?: string[];
  /** Times the supervisor started it again after it died. */
  restarts?: number;
}

/** The part of daemon.json the supervisor reads and writes; other fields are kept as they are. */
export interface SupervisedRecord {
  supervisorPid?: number;
  processes: StackProcess[];
  [other: string]: unknown;
}

/**
 * V8 flags for service processes. A 1 MiB semi-space keeps the young
 * generation from holding ~30 MiB of RSS per process after start-up bursts;
 * a control plane's allocation rate does not need more (measured in
 * bench/suites/daemon.js). --expose-gc is for one full GC once start-up
 * settled (settle.ts): V8's memory reducer postpones it under load, and the
 * start-up garbage stayed (docs/design/memory.md). npm start and
 * deploy/systemd use the same.
 */
export const NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc'];

export const recordFile = (run: string): string => join(run, 'daemon.json');

export function readRecordFile(run: string): SupervisedRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(run), 'utf8')) as SupervisedRecord;
  } catch {
    return undefined;
  }
}

/** Atomic replace, mode 0600 (the record names what to signal). */
export function writeRecordFile(run: string, record: SupervisedRecord): void {
  const p = recordFile(run);
  writeFileSync(`${p}.tmp`, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${p}.tmp`, p);
}

/** Running and running `script` (a recycled pid is not ours); a zombie counts as gone. */
export function processAlive(pid: number, script?: string): boolean {
  if (!(pid > 0)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return false;
    if (!script) return true;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(script);
  } catch {
    return false;
  }
}

/** The restart delay of one process: systemd's RestartSec with a doubling like moby's restart manager. */
export class RestartDelay {
  static readonly FIRST_MS = 100;
  static readonly MAX_MS = 30_000;
  /** A run this long counts as healthy: the next death restarts after FIRST_MS again. */
  static readonly HEALTHY_RUN_MS = 10_000;
  private nextMs = RestartDelay.FIRST_MS;

  /** The delay before restarting a process that ran `ranMs`. */
  next(ranMs: number): number {
    if (ranMs >= RestartDelay.HEALTHY_RUN_MS) this.nextMs = RestartDelay.FIRST_MS;
    const d = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, RestartDelay.MAX_MS);
    return d;
  }

  reset(): void {
    this.nextMs = RestartDelay.FIRST_MS;
  }
}

/**
 * Lowers this process's oom_score_adj so the kernel's OOM killer takes a
 * container before a service (Docker runs dockerd at -500). Lowering needs
 * CAP_SYS_RESOURCE; without it the write fails with EACCES and the value
 * stays: the monitors then raise the containers' score instead (monitor.md).
 * Returns what the process runs with.
 */
export function lowerOomScore(value = -500): { adj: number; lowered: boolean; error?: string } {
  try {
    writeFileSync('/proc/self/oom_score_adj', String(value));
    return { adj: value, lowered: true };
  } catch (e) {
    let adj = 0;
    try { adj = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()); } catch { /* keep 0 */ }
    return { adj, lowered: false, error: (e as NodeJS.ErrnoException).code ?? String(e) };
  }
}

interface Supervised {
  proc: StackProcess;
  child?: ChildProcess;
  startedAt: number;
  delay: RestartDelay;
  timer?: NodeJS.Timeout;
  poll?: NodeJS.Timeout;
}

export interface SupervisorOptions {
  run: string;
  logDir: string;
  /** Extra flags before the script (NODE_FLAGS). */
  nodeFlags?: string[];
  log?: (line: string) => void;
  /** How often an adopted process (not our child) is checked. */
  pollMs?: number;
}

export class Supervisor {
  private readonly entries = new Map<string, Supervised>();
  private stopping = false;
  private readonly log: (line: string) => void;

  constructor(private readonly o: SupervisorOptions) {
    this.log = o.log ?? ((l) => process.stderr.write(`${new Date().toISOString()} supervisor: ${l}\n`));
  }

  /** Takes over the record's processes: adopts the live ones, starts the others. */
  start(): void {
    const record = readRecordFile(this.o.run);
    if (!record) throw new Error(`no stack record at ${recordFile(this.o.run)}: the supervisor is started by 'berth daemon up'`);
    record.supervisorPid = process.pid;
    writeRecordFile(this.o.run, record);
    for (const proc of record.processes) {
      const e: Supervised = { proc: { ...proc }, startedAt: Date.now(), delay: new RestartDelay() };
      this.entries.set(proc.name, e);
      if (processAlive(proc.pid, proc.script)) this.adopt(e);
      else this.launch(e);
    }
  }

  /** Starts every process that is down now (daemon up asked), forgetting the backoff. */
  startMissing(): void {
    for (const e of this.entries.values()) {
      if (!e.timer) continue;
      clearTimeout(e.timer);
      e.timer = undefined;
      e.delay.reset();
      this.launch(e);
    }
  }

  /** Stops supervising; the processes run on (daemon down stops them by the record). */
  stop(): void {
    this.stopping = true;
    for (const e of this.entries.values()) {
      clearTimeout(e.timer);
      clearInterval(e.poll);
      e.child?.removeAllListeners('exit');
      e.child?.unref();
    }
    this.save();
  }

  pids(): Record<string, number> {
    return Object.fromEntries([...this.entries].map(([n, e]) => [n, e.proc.pid]));
  }

  private adopt(e: Supervised): void {
    this.log(`adopted ${e.proc.name} (pid ${e.proc.pid})`);
    e.poll = setInterval(() => {
      if (processAlive(e.proc.pid, e.proc.script)) return;
      clearInterval(e.poll);
      e.poll = undefined;
      this.died(e, 'exited (adopted: status unknown)');
    }, this.o.pollMs ?? 500);
  }

  private launch(e: Supervised): void {
    if (this.stopping) return;
    let fd: number | undefined;
    try {
      fd = openSync(join(this.o.logDir, `${e.proc.name}.log`), 'a', 0o600);
      const child = spawn(process.execPath, [...(this.o.nodeFlags ?? NODE_FLAGS), e.proc.script, ...(e.proc.args ?? [])], {
        detached: true, stdio: ['ignore', fd, fd], env: process.env,
      });
      if (child.pid === undefined) throw new Error('spawn returned no pid');
      e.child = child;
      e.startedAt = Date.now();
      e.proc.pid = child.pid;
      this.save();
      this.log(`started ${e.proc.name} (pid ${child.pid})`);
      child.once('error', (err) => this.log(`${e.proc.name}: ${err.message}`));
      child.once('exit', (code, signal) => {
        if (e.child !== child) return;
        e.child = undefined;
        this.died(e, signal ? `killed by ${signal}` : `exited with ${code}`);
      });
    } catch (err) {
      this.died(e, `could not be started: ${(err as Error).message}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private died(e: Supervised, how: string): void {
    if (this.stopping) return;
    const delay = e.delay.next(Date.now() - e.startedAt);
    e.proc.restarts = (e.proc.restarts ?? 0) + 1;
    this.log(`${e.proc.name} (pid ${e.proc.pid}) ${how}; restarting in ${delay} ms`);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      this.launch(e);
    }, delay);
  }

  /** Writes the current pids into the record, keeping the fields others own. */
  private save(): void {
    const record = readRecordFile(this.o.run);
    if (!record) return; // daemon down removed it: nothing to keep true
    record.supervisorPid = this.stopping ? undefined : process.pid;
    record.processes = record.processes.map((p) => {
      const e = this.entries.get(p.name);
      return e ? { ...p, pid: e.proc.pid, ...(e.proc.restarts ? { restarts: e.proc.restarts } : {}) } : p;
    });
    writeRecordFile(this.o.run, record);
  }
}

/** The supervisor process's main: BERTH_RUN names the stack. */
export function superviseMain(run: string): void {
  const lowered = lowerOomScore(-900);
  const sup = new Supervisor({ run, logDir: join(run, 'logs') });
  sup.start();
  process.stderr.write(`${new Date().toISOString()} supervisor: pid ${process.pid}, oom_score_adj ${lowered.adj}${lowered.lowered ? '' : ` (lowering refused: ${lowered.error})`}\n`);
  const onStop = () => {
    sup.stop();
    process.exit(0);
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => undefined);
  process.on('SIGUSR1', () => sup.startMissing());
}
