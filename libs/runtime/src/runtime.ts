// Runtime: the namespaces service's local logic (containerd's task service
// shape): create/start/signal/wait/delete containers through berth-shim,
// each container parented by its own berth-monitor so that the Node process
// can die and come back (recover()) without touching running containers.
//
// On-disk layout, all under <root>/<id>/ (the "state dir"):
//   config          the shim's config (ShimBinding.writeConfig)
//   runtime.json    what create decided: pid, terminal, log path, handles
//   pid             init's host pid (written by the shim)
//   monitor.pid     the monitor's pid; removed when the monitor exits
//   attach.sock     the monitor's attach socket (monitor-protocol.ts)
//   started         present once `shim start` succeeded
//   exit            the exit record, written atomically by the monitor
//   exec/<execId>.config, exec/<execId>/{pid,exit}   exec'd processes
//   monitor.log     the monitor's own diagnostics
// plus namespace handles at <runDir>/<type>ns/<id> and the CRI log at the
// container's log path (rotated as <path>.1 ...).
//
// Status is derived from those files, never cached: stopped once `exit`
// exists; otherwise created or running (by `started`) while the monitor is
// alive. A monitor that died without writing `exit` leaves the container
// "stopped" with exit null (wait() then throws DataLoss).
import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  AlreadyExistsError,
  DataLossError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  fromNodeError,
  isNotFound,
} from '@berth/errors';
import { pidfdOpen, pidfdSendSignal } from '@berth/sys';
import { Attachment } from './attach';
import { startMonitor } from './monitor-process';
import { EXEC_STDIN, EXEC_TERMINAL, HELLO_ACK, HELLO_OUTPUT, encodeExec, encodeHello, type ExitStatus } from './monitor-protocol';
import { persistNamespaces, removeNamespaceHandlesAsync } from './namespace-handles';
import { pidsInNamespaceOf, processInfo, type ProcessInfo } from './process-namespace';
import type { ShimBinding } from './shim-binding';
import { readExitFile, readOptional, writeJsonAtomic } from './state-files';
import { isInitOfNamespace, liveMonitorPid, parentPid, waitMonitorGone, waitProcessGone } from './liveness';
import { waitForExit } from './exit-wait';
import { checkLogBounds, DEFAULT_LOG_MAX_FILES, DEFAULT_LOG_MAX_SIZE, readLog, type LogEntry, type ReadLogOptions } from '@berth/cri-log';

const execFileP = promisify(execFile);

/** Container and exec ids: what a path segment and the monitor accept. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface RuntimeOptions<Spec, Process> {
  /** State dirs live at <root>/<id> (${BERTH_RUN}/namespaces); must exist. */
  root: string;
  /** Namespace handles go to <runDir>/<type>ns/<id> (${BERTH_RUN}). */
  runDir: string;
  /** Logs default to <logDir>/<id>.log. */
  logDir: string;
  shim: ShimBinding<Spec, Process>;
}

export interface CreateOptions {
  /** Run init on a new pty (attach gets one merged stream; resize works). */
  terminal?: boolean;
  /** Give init a stdin pipe fed by attach clients (always true with a terminal). */
  stdin?: boolean;
  /** CRI log file; default <logDir>/<id>.log. */
  logPath?: string;
  /** Rotate the log past this many bytes (default 10 MiB). */
  logMaxSize?: number;
  /** Keep at most this many log files, the current one included (default 5). */
  logMaxFiles?: number;
  /**
   * Cgroup files whose "oom_kill N" counter tells whether the OOM killer
   * ended the process (memory.events on v2, memory.oom_control on v1).
   * Default: found under the spec's linux.cgroupsPaths; none: oomKilled null.
   */
  oomFiles?: string[];
}

export type ContainerStatus = 'created' | 'running' | 'stopped';

export interface ContainerState {
  id: string;
  status: ContainerStatus;
  /** Host pid of init (meaningless once stopped). */
  pid: number;
  /** The monitor's pid while it runs, else null. */
  monitorPid: number | null;
  createdAt: string;
  startedAt: string | null;
  terminal: boolean;
  logPath: string;
  /** Files the log rotates through, the current one included. */
  logMaxFiles: number;
  /** {OCI namespace type: handle path} for the container's own namespaces. */
  namespaces: Record<string, string>;
  /** Set once stopped (null if the monitor died without recording it). */
  exit: ExitStatus | null;
}

export interface CreateResult {
  /** Host pid of init. */
  pid: number;
  /** Pid of the container's monitor (its parent). */
  monitorPid: number;
  /** {OCI namespace type: handle path} ("network" -> <runDir>/netns/<id>). */
  namespaces: Record<string, string>;
}

export interface ExecOptions {
  /** Run on a new pty (the exec config must ask the shim for a terminal too). */
  terminal?: boolean;
  /** Keep a stdin pipe open for the returned io (always with a terminal). */
  stdin?: boolean;
}

export interface ExecProcess {
  pid: number;
  /** The exec'd process's stdio; connected before it started, so no output is missed. */
  io: Attachment;
}

export interface RecoveredContainer {
  id: string;
  status: ContainerStatus;
  pid: number;
  /** For containers that exited while no Runtime was watching (or before). */
  exit: ExitStatus | null;
}

interface RuntimeRecord {
  id: string;
  pid: number;
  createdAt: string;
  terminal: boolean;
  logPath: string;
  logMaxFiles: number;
  namespaces: Record<string, string>;
}


export class Runtime<Spec = unknown, Process = unknown> {
  private readonly pidfds = new Map<string, number>();
  private readonly waits = new Map<string, Promise<ExitStatus>>();

  private readonly opts: RuntimeOptions<Spec, Process>;

  constructor(opts: RuntimeOptions<Spec, Process>) {
    // Absolute: the monitor runs from / and takes these paths as they are.
    this.opts = { ...opts, root: resolve(opts.root), runDir: resolve(opts.runDir), logDir: resolve(opts.logDir) };
  }

  /**
   * Creates container id: writes the shim config, starts its monitor, and
   * returns once init exists in its namespaces and waits for start(). The
   * namespace handles exist by then, so the net namespace can be set up.
   */
  async create(id: string, spec: Spec, opts: CreateOptions = {}): Promise<CreateResult> {
    checkId(id, 'id');
    this.checkRoot();
    const logMaxSize = opts.logMaxSize ?? DEFAULT_LOG_MAX_SIZE;
    const logMaxFiles = opts.logMaxFiles ?? DEFAULT_LOG_MAX_FILES;
    checkLogBounds(logMaxSize, logMaxFiles, { size: 'logMaxSize', files: 'logMaxFiles' });
    const dir = this.stateDir(id);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`container ${id} already exists: delete it or pick another id`, { field: 'id' });
      throw fromNodeError(e as NodeJS.ErrnoException, `create state dir ${dir}`);
    }
    const logPath = resolve(opts.logPath ?? join(this.opts.logDir, `${id}.log`));
    const terminal = terminalOf(spec, opts.terminal, 'terminal');
    let pid = 0;
    try {
      await this.opts.shim.writeConfig(dir, spec);
      mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
      pid = await startMonitor({
        stateDir: dir,
        shimArgv: [this.opts.shim.path, 'create', dir],
        terminal,
        stdin: opts.stdin ?? terminal,
        logPath,
        logMaxSize,
        logMaxFiles,
        oomFiles: opts.oomFiles ?? oomFilesOf(spec),
      });
      this.pidfds.set(id, pidfdOpen(pid));
      const namespaces = await persistNamespaces(pid, this.opts.runDir, id);
      const record: RuntimeRecord = { id, pid, createdAt: new Date().toISOString(), terminal, logPath, logMaxFiles, namespaces };
      writeJsonAtomic(join(dir, 'runtime.json'), record);
      const monitorPid = liveMonitorPid(dir);
      if (monitorPid === null) throw new DataLossError(`container ${id}: its monitor exited during create (see ${dir}/monitor.log)`);
      return { pid, monitorPid, namespaces };
    } catch (e) {
      await this.teardown(id, dir, logPath, logMaxFiles);
      throw e;
    }
  }

  /** Lets init execve the container's process. */
  async start(id: string): Promise<void> {
    const st = this.state(id);
    if (st.status !== 'created') throw new FailedPreconditionError(`container ${id} is ${st.status}, not created: only a created container can be started`);
    const shim = this.opts.shim;
    if (shim.start) {
      await shim.start(this.stateDir(id)); // its errors are already typed and worded
      writeFileSync(join(this.stateDir(id), 'started'), new Date().toISOString(), { mode: 0o600 });
      return;
    }
    try {
      await execFileP(shim.path, ['start', this.stateDir(id)]);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new FailedPreconditionError(`start ${id}: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
    }
    writeFileSync(join(this.stateDir(id), 'started'), new Date().toISOString(), { mode: 0o600 });
  }

  /**
   * Sends sig (name or number) to init by pidfd, or with all to every process
   * in the container (each through its own pidfd, opened after it was found
   * in the container's pid namespace). A process that just exited is not an
   * error.
   */
  signal(id: string, sig: string | number, opts: { all?: boolean } = {}): void {
    const st = this.state(id);
    if (st.status === 'stopped') throw new FailedPreconditionError(`container ${id} has exited: there is no process to signal`);
    const initFd = this.pidfd(id, st);
    const targets = opts.all ? pidsInNamespaceOf(st.pid).filter((p) => p !== st.pid) : [];
    for (const pid of targets) {
      let fd: number;
      try {
        fd = pidfdOpen(pid);
      } catch (e) {
        if (isNotFound(e)) continue;
        throw e;
      }
      try {
        // Re-check after opening: the pid may have been recycled since the walk.
        if (pidsInNamespaceOf(st.pid).includes(pid)) pidfdSendSignal(fd, sig);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      } finally {
        closeSync(fd);
      }
    }
    try {
      pidfdSendSignal(initFd, sig);
    } catch (e) {
      if (isNotFound(e)) return; // ESRCH: exited between state() and now
      throw e;
    }
  }

  /**
   * Sends sig to exec'd process execId (a healthcheck probe past its
   * timeout) through a pidfd opened on the pid its shim recorded, and only
   * while that pid is still in the container's pid namespace and the exec has
   * no exit recorded (so a recycled pid is never signalled). An exec that
   * exited, or has not recorded its pid yet, is not an error.
   */
  signalExec(id: string, execId: string, sig: string | number): void {
    checkId(execId, 'execId');
    const st = this.state(id);
    if (st.status === 'stopped') throw new FailedPreconditionError(`container ${id} has exited: there is no process to signal`);
    const dir = join(this.stateDir(id), 'exec', execId);
    if (!existsSync(dir)) throw new NotFoundError(`container ${id} has no exec ${execId}`, { field: 'exec_id' });
    const pid = Number(readOptional(join(dir, 'pid'))?.trim() ?? '');
    if (!Number.isInteger(pid) || pid <= 0 || existsSync(join(dir, 'exit'))) return;
    let fd: number;
    try {
      fd = pidfdOpen(pid);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    try {
      if (existsSync(join(dir, 'exit')) || !pidsInNamespaceOf(st.pid).includes(pid)) return;
      pidfdSendSignal(fd, sig);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * stopSignal (SIGTERM: the image's StopSignal), then SIGKILL if init is
   * still there after timeoutMs. Resolves with the exit.
   */
  async stop(id: string, timeoutMs = 10_000, stopSignal: string | number = 'SIGTERM'): Promise<ExitStatus> {
    const st = this.state(id);
    if (st.status === 'stopped' && st.exit) return st.exit;
    const exited = this.wait(id);
    this.signal(id, stopSignal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(true), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (timedOut) this.signal(id, 'SIGKILL');
    return exited;
  }

  /**
   * Resolves with init's exit once it exited and its output is logged. Any
   * number of waiters share one watch connection to the monitor; a
   * container that exited while nobody watched resolves from the exit file.
   */
  wait(id: string): Promise<ExitStatus> {
    const dir = this.existingStateDir(id);
    let w = this.waits.get(id);
    if (!w) {
      w = waitForExit(join(dir, 'attach.sock'), join(dir, 'exit'), '', `wait ${id}`).finally(() => this.waits.delete(id));
      this.waits.set(id, w);
    }
    return w;
  }

  state(id: string): ContainerState {
    const dir = this.existingStateDir(id);
    let record: RuntimeRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, 'runtime.json'), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`container ${id} does not exist (its create did not finish)`);
      throw new DataLossError(`container ${id}: unreadable ${join(dir, 'runtime.json')}`, { cause: e });
    }
    const exit = readExitFile(join(dir, 'exit'), id);
    const monitorPid = exit ? null : liveMonitorPid(dir);
    const startedAt = readOptional(join(dir, 'started'));
    const status: ContainerStatus = exit || monitorPid === null ? 'stopped' : startedAt ? 'running' : 'created';
    return {
      id,
      status,
      pid: record.pid,
      monitorPid,
      createdAt: record.createdAt,
      startedAt,
      terminal: record.terminal,
      logPath: record.logPath,
      logMaxFiles: record.logMaxFiles,
      namespaces: record.namespaces,
      exit,
    };
  }

  list(): ContainerState[] {
    this.checkRoot();
    const out: ContainerState[] = [];
    for (const id of readdirSync(this.opts.root).sort()) {
      if (!ID_RE.test(id)) continue;
      try {
        out.push(this.state(id));
      } catch (e) {
        if (!isNotFound(e)) throw e; // half-created or being deleted
      }
    }
    return out;
  }

  /**
   * Removes a container: its monitor must be gone (a created one is killed;
   * a running one only with force: SIGKILL), then the namespace handles, the
   * state dir and the log files. Nothing of it is left afterwards.
   */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    const dir = this.existingStateDir(id);
    if (!existsSync(join(dir, 'runtime.json'))) return this.deleteInterruptedCreate(id, dir);
    const st = this.state(id);
    if (st.status === 'running' && !opts.force) throw new FailedPreconditionError(`container ${id} is running: stop it first, or delete with force`);
    const record = JSON.parse(readFileSync(join(this.stateDir(id), 'runtime.json'), 'utf8')) as RuntimeRecord;
    await this.teardown(id, this.stateDir(id), record.logPath, record.logMaxFiles);
  }

  /**
   * A create cut short by the death of the service running it (the state
   * dir made, runtime.json never written): what it started is killed and
   * the dir removed, so the id can be created again (a retried create does
   * this through Delete). The init waits before execve as the monitor's child
   * (the monitor is its subreaper), so it is killed only when its parent is
   * that monitor; the monitor then records the exit and ends. Without an
   * init the monitor (still in its bounded shim wait, or alone) is killed.
   */
  private async deleteInterruptedCreate(id: string, dir: string): Promise<void> {
    const monitor = liveMonitorPid(dir);
    const init = Number(readOptional(join(dir, 'pid'))?.trim() ?? '0');
    const kill = (pid: number) => {
      try {
        const fd = pidfdOpen(pid);
        try { pidfdSendSignal(fd, 'SIGKILL'); } finally { closeSync(fd); }
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    };
    if (monitor !== null && Number.isInteger(init) && init > 0 && parentPid(init) === monitor) kill(init);
    else if (monitor !== null) kill(monitor);
    await waitMonitorGone(dir).catch(() => {
      const m = liveMonitorPid(dir);
      if (m !== null) kill(m);
    });
    await removeNamespaceHandlesAsync(this.opts.runDir, id);
    await rm(dir, { recursive: true, force: true });
  }

  /**
   * Starts process in the running container as execId. The returned io is
   * attached before the process starts; its exit is recorded by the monitor
   * (waitExec) whether or not anyone is attached.
   */
  async exec(id: string, execId: string, proc: Process, opts: ExecOptions = {}): Promise<ExecProcess> {
    checkId(execId, 'execId');
    const st = this.state(id);
    if (st.status !== 'running') throw new FailedPreconditionError(`container ${id} is ${st.status}: exec needs a running container`);
    const dir = this.stateDir(id);
    if (existsSync(join(dir, 'exec', execId)) || existsSync(join(dir, 'exec', `${execId}.config`))) {
      throw new AlreadyExistsError(`exec ${execId} already exists in container ${id}: exec ids are not reused`, { field: 'execId' });
    }
    mkdirSync(join(dir, 'exec'), { recursive: true, mode: 0o700 });
    const configPath = join(dir, 'exec', `${execId}.config`);
    await this.opts.shim.writeExecConfig(configPath, proc);
    const terminal = terminalOf({ process: proc }, opts.terminal, 'terminal');
    const flags = (terminal ? EXEC_TERMINAL : 0) | (opts.stdin || terminal ? EXEC_STDIN : 0);
    const io = await Attachment.connect(join(dir, 'attach.sock'), encodeExec(flags, execId, configPath), `exec ${execId} in ${id}`);
    try {
      const pid = await io.result;
      return { pid, io };
    } catch (e) {
      io.close();
      rmSync(configPath, { force: true });
      throw e;
    }
  }

  /** Resolves with an exec'd process's exit (recorded by the monitor). */
  waitExec(id: string, execId: string): Promise<ExitStatus> {
    checkId(execId, 'execId');
    const dir = this.existingStateDir(id);
    const exitPath = join(dir, 'exec', execId, 'exit');
    if (!existsSync(join(dir, 'exec', execId))) return Promise.reject(new NotFoundError(`container ${id} has no exec ${execId}`));
    return waitForExit(join(dir, 'attach.sock'), exitPath, execId, `wait exec ${execId} in ${id}`);
  }

  /**
   * Attaches to the stdio of init, or of exec'd process execId (see
   * Attachment). Output from before the attach is in the log (readLog).
   */
  async attach(id: string, execId = ''): Promise<Attachment> {
    if (execId) checkId(execId, 'execId');
    const st = this.state(id);
    if (st.status === 'stopped') throw new FailedPreconditionError(`container ${id} has exited: read its log instead`);
    const what = execId ? `attach to exec ${execId} in ${id}` : `attach ${id}`;
    // Acknowledged: once this resolves the monitor has registered us, so an
    // attach before start sees the first byte the process writes.
    const a = await Attachment.connect(join(this.stateDir(id), 'attach.sock'), encodeHello(HELLO_OUTPUT | HELLO_ACK, execId), what);
    try {
      await a.result;
    } catch (e) {
      a.close();
      throw e;
    }
    return a;
  }

  /** Host pids of the container's processes (its pid namespace); [] once stopped. */
  pids(id: string): number[] {
    const st = this.state(id);
    if (st.status === 'stopped') return [];
    // Validate the pid through the pidfd: a recycled pid would list strangers.
    this.pidfd(id, st);
    return pidsInNamespaceOf(st.pid);
  }

  /**
   * The container's log as lines (the Logs rpc, docker logs). With follow,
   * new lines keep coming until the container exits (then the rest is
   * drained); a stopped container just ends.
   */
  logs(id: string, opts: Omit<ReadLogOptions, 'maxFiles' | 'follow'> & { follow?: boolean } = {}): AsyncGenerator<LogEntry> {
    const st = this.state(id);
    const { follow, ...rest } = opts;
    const until = follow && st.status !== 'stopped' ? this.wait(id).catch(() => undefined) : undefined;
    return readLog(st.logPath, { ...rest, maxFiles: st.logMaxFiles, ...(until ? { follow: until } : {}) });
  }

  /** The container's processes as ps shows them (ListPids); [] once stopped. */
  processes(id: string): ProcessInfo[] {
    return this.pids(id)
      .map(processInfo)
      .filter((p): p is ProcessInfo => p !== null);
  }

  /**
   * After a restart: finds every container from the state dirs, takes pidfds
   * of those still alive, and reports those that exited meanwhile.
   */
  recover(): RecoveredContainer[] {
    const out: RecoveredContainer[] = [];
    for (const st of this.list()) {
      if (st.status !== 'stopped') {
        try {
          this.pidfd(st.id, st);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      out.push({ id: st.id, status: st.status, pid: st.pid, exit: st.exit });
    }
    return out;
  }

  /** Releases the pidfds this instance holds; the containers are untouched. */
  close(): void {
    for (const fd of this.pidfds.values()) closeSync(fd);
    this.pidfds.clear();
  }

  private stateDir(id: string): string {
    return join(this.opts.root, id);
  }

  private existingStateDir(id: string): string {
    checkId(id, 'id');
    const dir = this.stateDir(id);
    if (!existsSync(dir)) throw new NotFoundError(`container ${id} does not exist`);
    return dir;
  }

  private checkRoot(): void {
    let ok = false;
    try {
      ok = statSync(this.opts.root).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw new FailedPreconditionError(`runtime root ${this.opts.root} does not exist: create it (berth's run dir) before starting containers`);
  }

  /**
   * The pidfd of init, opened once per Runtime. When not cached (after a
   * restart) the pid is checked to still be the monitor's child before the
   * handle is trusted: a pid from a file may have been recycled.
   */
  private pidfd(id: string, st: ContainerState): number {
    const cached = this.pidfds.get(id);
    if (cached !== undefined) return cached;
    const fd = pidfdOpen(st.pid);
    // Checked after opening, so the answer holds for the process the fd names.
    const isInit =
      (st.monitorPid !== null && parentPid(st.pid) === st.monitorPid) ||
      // The monitor is gone (killed): init was reparented, but it is still
      // pid 1 of the namespace the handle keeps.
      isInitOfNamespace(st.pid, st.namespaces['pid']);
    if (!isInit) {
      closeSync(fd);
      throw new NotFoundError(`container ${id}: pid ${st.pid} is no longer its init`);
    }
    this.pidfds.set(id, fd);
    return fd;
  }

  /**
   * Kills init unless its exit is recorded, waits for the monitor (or, if the
   * monitor was killed, the orphaned init) to go, removes everything of id.
   */
  private async teardown(id: string, dir: string, logPath: string, logMaxFiles: number): Promise<void> {
    if (!existsSync(join(dir, 'exit'))) {
      let fd = this.pidfds.get(id);
      let st: ContainerState | null = null;
      try {
        st = this.state(id);
        fd ??= this.pidfd(id, st);
      } catch (e) {
        if (!isNotFound(e)) throw e; // no runtime.json yet (failed create), or init already gone
      }
      try {
        if (fd !== undefined) pidfdSendSignal(fd, 'SIGKILL');
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      if (liveMonitorPid(dir) !== null) {
        await waitForExit(join(dir, 'attach.sock'), join(dir, 'exit'), '', `delete ${id}`).catch(() => {});
      } else if (st && fd !== undefined) {
        await waitProcessGone(st.pid, `container ${id}'s init`);
      }
    }
    await waitMonitorGone(dir);
    const fd = this.pidfds.get(id);
    if (fd !== undefined) closeSync(fd);
    this.pidfds.delete(id);
    await removeNamespaceHandlesAsync(this.opts.runDir, id);
    // Off the event loop (a dozen unlinks and the log files): with many
    // containers removed at once these were a visible stall for every service.
    await Promise.all([
      rm(dir, { recursive: true, force: true }),
      rm(logPath, { force: true }),
      ...Array.from({ length: Math.max(0, logMaxFiles - 1) }, (_, i) => rm(`${logPath}.${i + 1}`, { force: true })),
    ]);
  }
}

/**
 * Whether the process runs on a pty: the spec's process.terminal (which tells
 * the shim to make one) and the option (which tells the monitor to expect its
 * master) must agree; either may be left out.
 */
function terminalOf(spec: unknown, opt: boolean | undefined, field: string): boolean {
  const fromSpec = (spec as { process?: { terminal?: unknown } } | null)?.process?.terminal;
  if (typeof fromSpec === 'boolean' && opt !== undefined && opt !== fromSpec) {
    throw new InvalidArgumentError(`${field} is ${opt} but process.terminal is ${fromSpec}: set both the same, or only one`, { field });
  }
  return opt ?? fromSpec === true;
}

/** The OOM counters of the cgroups a spec joins (linux.cgroupsPaths), at most 4. */
function oomFilesOf(spec: unknown): string[] {
  const paths = (spec as { linux?: { cgroupsPaths?: unknown } } | null)?.linux?.cgroupsPaths;
  if (!Array.isArray(paths)) return [];
  const files: string[] = [];
  for (const dir of paths) {
    if (typeof dir !== 'string') continue;
    for (const name of ['memory.events', 'memory.oom_control']) {
      if (existsSync(join(dir, name))) {
        files.push(join(dir, name));
        break;
      }
    }
  }
  return files.slice(0, 4);
}

function checkId(id: string, field: string): void {
  if (!ID_RE.test(id)) throw new InvalidArgumentError(`${field} ${JSON.stringify(id)} must be 1-64 of [A-Za-z0-9_.-], starting with a letter or digit`, { field });
}

