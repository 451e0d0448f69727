// The engine: container lifecycle composed from the store, the service ports,
// the restart policy and events. Every state change is committed to the store
// first and announced second; service calls that create things run as sagas.
//
// Concurrency: Node runs one callback at a time, but lifecycle calls await
// services, so two calls on one container could interleave (stop during
// start). Each container has an operation chain (`serial`) that orders its
// lifecycle calls; exit handling runs on the same chain.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, FailedPreconditionError, InvalidArgumentError, NotFoundError, isAlreadyExists, isFailedPrecondition, isNotFound, isUnavailable, makeError } from '@berth/errors';
import { readLog, type LogEntry, type ReadLogOptions } from '@berth/cri-log';
import { normalizeSignalName, quoteValue } from '@berth/container-config';
import { cpuPercent, memoryUsage, type RawCpuMem } from './stats';
import { applyChanges, imageConfigOf } from './commit';
import { filterPsOutput, type TopResult } from './top';
import { countContainers, selectPrunable, type ContainerCounts } from './summary';
import { ContainerStore, newContainerId, type ListOptions } from './container-store';
import { EngineEvents, type ContainerAction, type ContainerEvent } from './events';
import { uniqueName, validateContainerName } from './names';
import type { EnginePorts, ExitStatus, PullPolicy } from './ports';
import { newContainerRecord } from './record';
import { decideRestart, RestartBackoff, type Clock } from './restart';
import { RestartScheduler } from './lifecycle/restarts';
import { ExitHandling } from './lifecycle/exits';
import { ContainerCreation, type CreateRequest } from './lifecycle/create';
import { ContainerStart } from './lifecycle/start';
import { ContainerSignals } from './lifecycle/stop';
import { ContainerRemoval } from './lifecycle/remove';
import { ContainerUpdates } from './lifecycle/update';
import { createSteps, hostnameOf, resourcesOf, startSteps, type RunContext } from './run-plan';
import { processFields } from './merge';
import { resolveUser } from './user';
import { requireRunning } from './state';
import { checkSecurityOpts, isPrivileged, noNewPrivilegesOf } from './security';
import { randomBytes } from 'node:crypto';
import { RuntimeRelease } from './lifecycle/release';
import { canTransition, transition as checkTransition } from './state';
import type { ContainerUpdate } from '@berth/container-config';
import { logBoundsOf, type ContainerConfig, type ContainerRecord, type EndpointSettings, type HostConfig } from './types';
import { VolumeStore } from './volumes';
import { allocateIdMapping, loadIdPool, passwdUid } from './userns';
import { closeEngineState } from './state-modes';
import { connectNetwork, disconnectNetwork, type ConnectOptions } from './network-connect';
import { discardInterruptedCreate } from './recovery';
import { prepareVolumesStep } from './volume-mounts';
import { EngineContext, MAX_TIMER_MS, type EngineOptions } from './context';

export type { EngineOptions } from './context';

export type { CreateRequest } from './lifecycle/create';
export { normalizeSignal } from './lifecycle/signals';

/** docker exec options; empty fields default to the container's. */
/** docker logs options (Engine.logs): the reader's, with follow as a flag. */
export interface LogsOptions extends Omit<ReadLogOptions, 'follow' | 'maxFiles'> {
  follow?: boolean;
}

export interface ExecRequest {
  args: string[];
  /** Appended to the container's environment, replacing by KEY. */
  env?: string[];
  workingDir?: string;
  user?: string;
  tty?: boolean;
  stdin?: boolean;
  privileged?: boolean;
}

/** One container in a stats sample (berth.engine.v1.ContainerStats). */
export interface StatsSample {
  id: string;
  name: string;
  cpuPercent: number;
  cpuUsageNs: number;
  onlineCpus: number;
  memoryUsage: number;
  memoryLimit: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

/** Update of a live or stopped container (docker update); undefined fields are unchanged. */
export type UpdateRequest = ContainerUpdate;

/** A stats reading older than this is not used as the previous one (docker's precpu is one collection tick old). */
const STATS_PREV_MAX_AGE_MS = 2000;
/** Without a recent reading, the first of two is taken this long before the sample. */
const STATS_PRIME_MS = 500;

export class Engine {
  readonly store: ContainerStore;
  readonly volumes: VolumeStore;
  readonly events: EngineEvents;
  /** What the modules share: records, ports, events, the operation chain, peer retry (context.ts). */
  private readonly ctx: EngineContext;
  /** Each container's last stats reading and when it was taken (docker's precpu). */
  private readonly statsPrev = new Map<string, { raw: RawCpuMem; at: number }>();
  /** Restart policies in time: backoffs and restart timers (lifecycle/restarts.ts). */
  private readonly restarts: RestartScheduler;
  /** Exit watchers and the handling of exits (lifecycle/exits.ts). */
  private readonly exits: ExitHandling;
  /** docker create (lifecycle/create.ts). */
  private readonly creation: ContainerCreation;
  /** docker start and a policy's restart (lifecycle/start.ts). */
  private readonly starting: ContainerStart;
  /** docker stop, kill, pause, unpause (lifecycle/stop.ts). */
  private readonly signals: ContainerSignals;
  /** docker rm, prune, --rm (lifecycle/remove.ts). */
  private readonly removal: ContainerRemoval;
  /** docker rename, update (lifecycle/update.ts). */
  private readonly updates: ContainerUpdates;
  /** Releasing what a process holds in the other services (lifecycle/release.ts). */
  private readonly release: RuntimeRelease;

  constructor(o: EngineOptions) {
    this.ctx = new EngineContext(o);
    this.store = this.ctx.store;
    this.volumes = this.ctx.volumes;
    this.events = this.ctx.events;
    this.release = new RuntimeRelease(this.ctx);
    this.creation = new ContainerCreation(this.ctx);
    this.restarts = new RestartScheduler(this.ctx, (id) => this.starting.startNow(id, true));
    this.exits = new ExitHandling(this.ctx, this.release, this.restarts, (id, opts) => this.removal.removeNow(id, opts));
    this.starting = new ContainerStart(this.ctx, this.restarts, this.exits);
    this.signals = new ContainerSignals(this.ctx, this.restarts, this.exits);
    this.removal = new ContainerRemoval(this.ctx, this.release, this.restarts, this.exits);
    this.updates = new ContainerUpdates(this.ctx);
    closeEngineState(this.ctx.stateDir);
    this.ctx.syncUsernsTraversal();
  }

  private get ports(): EnginePorts { return this.ctx.ports; }
  private get clock(): Clock { return this.ctx.clock; }
  private get stateDir(): string { return this.ctx.stateDir; }
  private get warn(): (msg: string) => void { return this.ctx.warn; }
  private get onStepTimed(): ((step: string, seconds: number) => void) | undefined { return this.ctx.onStepTimed; }
  private syncUsernsTraversal(): void { this.ctx.syncUsernsTraversal(); }
  private timed<T>(step: string, fn: () => Promise<T>): Promise<T> { return this.ctx.timed(step, fn); }
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> { return this.ctx.serial(id, fn); }
  private emit(rec: ContainerRecord, action: ContainerAction, extra: Partial<ContainerEvent> = {}): void { this.ctx.emit(rec, action, extra); }
  private whileUnavailable<T>(fn: () => Promise<T>): Promise<T> { return this.ctx.whileUnavailable(fn); }

  // ---- create / start / run -------------------------------------------------

  /** docker create: record + image + writable root + volumes (lifecycle/create.ts). */
  create(request: CreateRequest): Promise<ContainerRecord> {
    return this.creation.create(request);
  }

  /**
   * docker start (lifecycle/start.ts). Starting a running container is a
   * no-op, as in Docker. `beforeStart` runs once the process exists, paused
   * before exec, with everything else in place (RunAttached attaches there,
   * so it misses no output however quickly the process exits); its failure
   * fails the start.
   */
  start(ref: string, opts: { beforeStart?: (id: string) => Promise<void> } = {}): Promise<ContainerRecord> {
    return this.starting.start(ref, opts);
  }

  /** docker run: create then start; with --rm a failed start removes the container again. */
  async run(req: CreateRequest): Promise<ContainerRecord> {
    const rec = await this.create(req);
    try {
      return await this.start(rec.id);
    } catch (e) {
      if (req.hostConfig.autoRemove) await this.remove(rec.id, { force: true, volumes: true }).catch(() => {});
      throw e;
    }
  }

  // ---- exit handling and restart policy --------------------------------------

  /**
   * Commits an exit and handles it: release, restart policy, --rm
   * (lifecycle/exits.ts). Called on the container's operation chain.
   */
  handleExit(id: string, st: ExitStatus): Promise<void> {
    return this.exits.handleExit(id, st);
  }

  /** True while a restart is scheduled (tests, `inspect` of a restarting container). */
  restartPending(id: string): boolean {
    return this.restarts.pending(id);
  }

  /**
   * Keeps container `id`'s process state (namespaces service) from being
   * deleted while an attach streams it; call the returned function when the
   * stream ends. undefined when the exit is already being cleaned up: the
   * attach must not start (read the log and wait instead).
   */
  holdRuntime(id: string): (() => void) | undefined {
    return this.release.hold(id);
  }

  // ---- stop / kill / pause ---------------------------------------------------

  /**
   * docker stop (lifecycle/stop.ts): the stop signal, then SIGKILL after the
   * timeout (seconds; default the container's stopTimeout, else 10). Marks
   * the container as manually stopped so unless-stopped/on-failure/always do
   * not restart it. Stopping a stopped container is a no-op.
   */
  stop(ref: string, timeoutS?: number, signalOverride?: string): Promise<ContainerRecord> {
    return this.signals.stop(ref, timeoutS, signalOverride);
  }

  /** docker kill: delivers a signal. SIGKILL or the stop signal count as a user stop. */
  kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    return this.signals.kill(ref, signal);
  }

  pause(ref: string): Promise<ContainerRecord> {
    return this.signals.pause(ref);
  }

  unpause(ref: string): Promise<ContainerRecord> {
    return this.signals.unpause(ref);
  }

  /** docker restart: stop (with timeout) then start. */
  async restart(ref: string, timeoutS?: number): Promise<ContainerRecord> {
    const rec = await this.stop(ref, timeoutS);
    return this.start(rec.id);
  }

  // ---- remove / rename / update ---------------------------------------------

  /**
   * docker rm (lifecycle/remove.ts). Refuses a live container unless force
   * (then SIGKILL first). volumes: also remove the container's anonymous
   * volumes (named ones stay).
   */
  remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    return this.removal.remove(ref, opts);
  }

  /**
   * docker network connect (network-connect.ts): a live container is attached
   * at once, a stopped one at its next start; the connection persists.
   */
  async connectNetwork(ref: string, network: string, opts: ConnectOptions = {}): Promise<{ network: string; endpoint: EndpointSettings }> {
    const rec = this.store.find(ref);
    return this.serial(rec.id, () => connectNetwork({ store: this.store, ports: this.ports, warn: this.warn }, rec.id, network, opts));
  }

  /** docker network disconnect (network-connect.ts); force drops a connection to a network that is gone. */
  async disconnectNetwork(ref: string, network: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = this.store.find(ref);
    return this.serial(rec.id, () => disconnectNetwork({ store: this.store, ports: this.ports, warn: this.warn }, rec.id, network, opts));
  }

  /** docker rename (lifecycle/update.ts). */
  rename(ref: string, newName: string): ContainerRecord {
    return this.updates.rename(ref, newName);
  }

  /** docker update: limits go to the cgroup at once when the container is running. */
  update(ref: string, u: UpdateRequest): Promise<ContainerRecord> {
    return this.updates.update(ref, u);
  }

  /** docker container prune: removes stopped containers matching filters; returns their ids. */
  pruneContainers(filters: Record<string, string[]> = {}): Promise<string[]> {
    return this.removal.prune(filters);
  }

  /**
   * docker commit: the writable layer as a new image on top of the
   * container's, config = the container's with `changes` applied. Changes are
   * checked before anything happens; with pause a running container is frozen
   * for the diff (and thawed whatever happens).
   */
  async commit(ref: string, o: { repository?: string; tag?: string; author?: string; message?: string; changes?: string[]; pause?: boolean } = {}): Promise<string> {
    const c = this.store.find(ref);
    const config = applyChanges(imageConfigOf(c.config), o.changes ?? []);
    if (o.tag && !o.repository) throw new InvalidArgumentError('a tag needs a repository (REPOSITORY[:TAG])', { field: 'tag' });
    const reference = o.repository ? `${o.repository}:${o.tag || 'latest'}` : '';
    if (!c.rootfs) throw new FailedPreconditionError(`container ${c.name} has no root filesystem to commit`, { field: 'state' });
    const freeze = (o.pause ?? true) && c.state === 'running';
    if (freeze) await this.ports.cgroups.freeze(c.id);
    let layer;
    try {
      layer = await this.ports.layers.diff(c.id);
    } finally {
      if (freeze) await this.ports.cgroups.thaw(c.id);
    }
    const { digest } = await this.ports.images.createImage({
      parentDigest: c.imageDigest, layer, config, author: o.author ?? '', comment: o.message ?? '', containerId: c.id, reference,
    });
    this.emit(c, 'commit', { imageId: digest });
    return digest;
  }

  /** Counts for `berth info`. */
  info(): ContainerCounts & { volumes: number } {
    return { ...countContainers(this.store.list({ all: true })), volumes: this.volumes.list().length };
  }

  // ---- stats / top -----------------------------------------------------------------

  /**
   * docker stats for many containers in one stream: one sample per intervalMs
   * while `stream` (else one), until `signal` aborts. `refs` empty = all
   * running (all with `all`); a container that stops mid-stream drops out of
   * later samples. CPU % is computed from two readings, as Docker's precpu:
   * the previous one when it is recent (a stream, or a call just before),
   * else one taken STATS_PRIME_MS before the sample, so a first or
   * --no-stream sample of a busy container is not 0%.
   */
  async *stats(refs: string[], opts: { all?: boolean; stream?: boolean; intervalMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<StatsSample[]> {
    const ids = refs.length ? refs.map((r) => this.store.find(r).id) : undefined;
    const sleep = (ms: number) => new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void { clearTimeout(t); opts.signal?.removeEventListener('abort', done); resolve(); }
      opts.signal?.addEventListener('abort', done, { once: true });
    });
    for (;;) {
      const recs = ids ? ids.flatMap((id) => { try { return [this.store.get(id)]; } catch { return []; } }) : this.store.list({ all: opts.all ?? false });
      const live = (s: string) => s === 'running' || s === 'paused';
      const stale = recs.filter((c) => live(c.state) && !((this.clock.now() - (this.statsPrev.get(c.id)?.at ?? -Infinity)) <= STATS_PREV_MAX_AGE_MS));
      if (stale.length) {
        await Promise.all(stale.map(async (c) => {
          try {
            this.statsPrev.set(c.id, { raw: await this.ports.cgroups.readStats(c.id), at: this.clock.now() });
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
        }));
        await sleep(STATS_PRIME_MS);
        if (opts.signal?.aborted) return;
      }
      const sample: StatsSample[] = [];
      for (const c of recs) {
        if (!live(c.state)) {
          this.statsPrev.delete(c.id);
          sample.push({ id: c.id, name: c.name, cpuPercent: 0, cpuUsageNs: 0, onlineCpus: 0, memoryUsage: 0, memoryLimit: 0, netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: 0 });
          continue;
        }
        try {
          const raw = await this.ports.cgroups.readStats(c.id);
          const net = await this.ports.networks.readCounters(c.id);
          sample.push({
            id: c.id, name: c.name, cpuPercent: cpuPercent(this.statsPrev.get(c.id)?.raw, raw), cpuUsageNs: raw.cpuUsageNs, onlineCpus: raw.onlineCpus,
            memoryUsage: memoryUsage(raw), memoryLimit: raw.memoryLimit, netRx: net.rx, netTx: net.tx,
            blockRead: raw.blockRead, blockWrite: raw.blockWrite, pids: raw.pids,
          });
          this.statsPrev.set(c.id, { raw, at: this.clock.now() });
        } catch (e) {
          if (!isNotFound(e)) throw e; // exited between list and read: skip it this round
        }
      }
      yield sample;
      if (!opts.stream || opts.signal?.aborted) return;
      await sleep(opts.intervalMs ?? 1000);
      if (opts.signal?.aborted) return;
    }
  }

  /** docker top: host ps rows of the container's processes. */
  async top(ref: string, psArgs: string[] = []): Promise<TopResult> {
    const c = this.store.find(ref);
    requireRunning(c.name, c.state === 'paused' ? 'running' : c.state);
    const pids = await this.ports.cgroups.pids(c.id);
    return filterPsOutput(await this.ctx.ps(psArgs), pids);
  }

  // ---- exec --------------------------------------------------------------------

  /**
   * docker exec: runs a process in a running container. Resolves once it is
   * started with its exec id and a promise of its exit code; exec_started and
   * exec_died are announced.
   */
  async exec(ref: string, req: ExecRequest): Promise<{ execId: string; exitCode: Promise<number> }> {
    const c = this.store.find(ref);
    requireRunning(c.name, c.state);
    if (req.args.length === 0) throw new InvalidArgumentError('exec needs a command', { field: 'cmd' });
    const base = processFields({ ...c.config, cmd: ['_'], entrypoint: null, env: [...c.config.env, ...(req.env ?? [])] }, hostnameOf(c));
    const passwd = await this.ports.rootfs.readFile(c.rootfs, '/etc/passwd');
    const group = await this.ports.rootfs.readFile(c.rootfs, '/etc/group');
    const u = resolveUser(req.user || c.config.user, passwd, group);
    const env = base.env.some((e) => e.startsWith('HOME=')) ? base.env : [...base.env, `HOME=${u.home}`];
    const execId = randomBytes(32).toString('hex');
    await this.ports.namespaces.exec(c.id, execId, {
      args: req.args, env, cwd: req.workingDir || base.cwd, uid: u.uid, gid: u.gid, additionalGids: u.additionalGids,
      terminal: req.tty ?? false, openStdin: req.stdin ?? false,
      // A privileged container's execs are privileged too (Docker's exec takes the container's capabilities).
      privileged: (req.privileged ?? false) || isPrivileged(c.hostConfig),
      // Docker's exec keeps the container's no_new_privs (and its seccomp
      // filter, which the shim takes from the container's own config).
      noNewPrivileges: noNewPrivilegesOf(c.hostConfig),
    });
    this.emit(c, 'exec_started', { execId });
    const exitCode = this.ports.namespaces.waitExec(c.id, execId).then((code) => {
      this.emit(c, 'exec_died', { execId, exitCode: code });
      return code;
    });
    // The caller may look at the exit only later (or never: a detached exec);
    // a failed wait must not be an unhandled rejection meanwhile.
    exitCode.catch(() => undefined);
    return { execId, exitCode };
  }

  // ---- queries ---------------------------------------------------------------

  /**
   * docker logs, from the engine's copy of the container's log. With follow,
   * the stream also ends when the container stops (after draining what it
   * wrote) or is removed, unless the caller's signal ends it first.
   */
  async *logs(ref: string, opts: LogsOptions = {}): AsyncGenerator<LogEntry> {
    const c = this.store.find(ref);
    const { follow, ...rest } = opts;
    const live = c.state === 'running' || c.state === 'paused' || c.state === 'restarting';
    const maxFiles = logBoundsOf(c.hostConfig).maxFiles;
    if (!follow || !live) {
      yield* readLog(c.logPath, { ...rest, maxFiles });
      return;
    }
    let onEvent: (ev: ContainerEvent) => void = () => {};
    // The mirror has written all the process wrote once it reports the exit
    // (namespaces ends its Logs stream at the exit, and the engine commits
    // the exit after that): the reader then drains the rest and ends.
    const stopped = new Promise<void>((res) => {
      onEvent = (ev) => {
        if (ev.id === c.id && (ev.action === 'exited' || ev.action === 'removed')) res();
      };
    });
    this.events.on('event', onEvent);
    try {
      yield* readLog(c.logPath, { ...rest, maxFiles, follow: stopped });
    } finally {
      this.events.off('event', onEvent);
    }
  }

  inspectRecord(ref: string): ContainerRecord {
    return this.store.find(ref);
  }

  list(opts?: ListOptions): ContainerRecord[] {
    return this.store.list(opts);
  }

  /**
   * docker wait: resolves with the exit code. "not-running" returns at once
   * for a stopped container, else at the next death of its process (a
   * restart-policy restart counts, as in Docker); "next-exit" always waits
   * for the next death; "removed" waits until the record is gone. `signal`
   * abandons the wait (the gRPC call was cancelled): the promise rejects.
   */
  async wait(ref: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal): Promise<number> {
    const rec = this.store.find(ref);
    if (condition === 'not-running' && (rec.state === 'exited' || rec.state === 'created')) return Promise.resolve(rec.exitCode);
    // "removed" answers the exit code too (Docker's condition=removed): the
    // record is gone by then, so it is taken from the last death seen.
    let exitCode = rec.exitCode;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        this.events.off('event', onEvent);
        signal?.removeEventListener('abort', onAbort);
      };
      const onEvent = (ev: ContainerEvent): void => {
        if (ev.id !== rec.id) return;
        if (ev.action === 'die' && ev.exitCode !== undefined) exitCode = ev.exitCode;
        if ((condition !== 'removed' && ev.action === 'die') || ev.action === 'removed') {
          cleanup();
          resolve(ev.action === 'removed' ? exitCode : ev.exitCode ?? this.lastExitCode(rec.id));
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(makeError(ErrorCode.Cancelled, `wait for container ${rec.name} cancelled`));
      };
      if (signal?.aborted) { onAbort(); return; }
      this.events.on('event', onEvent);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private lastExitCode(id: string): number {
    try { return this.store.get(id).exitCode; } catch { return 0; }
  }

  /**
   * The end of the run about to start (RunAttached), registered before the
   * start: resolves once the next exit of `id` is committed (the code Wait
   * answers) and, for an AutoRemove container, once the exit handling has
   * removed it (`removed` false when that failed: the handling warned why).
   * `signal` abandons it (the client went away): rejects with Cancelled.
   */
  runEnd(id: string, signal?: AbortSignal): Promise<{ exitCode: number; oomKilled: boolean; removed: boolean }> {
    const exists = (): boolean => { try { this.store.get(id); return true; } catch { return false; } };
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        this.events.off('event', onEvent);
        signal?.removeEventListener('abort', onAbort);
      };
      const onEvent = (ev: ContainerEvent): void => {
        if (ev.id !== id || ev.action !== 'die') return;
        cleanup();
        let autoRemove = false;
        let oomKilled = false;
        try {
          const r = this.store.get(id);
          autoRemove = r.hostConfig.autoRemove;
          oomKilled = r.oomKilled;
        } catch { /* removed with it (rm -f) */ }
        const exitCode = ev.exitCode ?? this.lastExitCode(id);
        // The exit handling (release, then --rm's removal) runs on the watcher; its end is the run's end.
        const handled = autoRemove ? (this.exits.handled(id) ?? Promise.resolve()).catch(() => undefined) : Promise.resolve();
        void handled.then(() => resolve({ exitCode, oomKilled, removed: !exists() }));
      };
      const onAbort = (): void => {
        cleanup();
        reject(makeError(ErrorCode.Cancelled, `run of container ${id} abandoned by the client`));
      };
      if (signal?.aborted) { onAbort(); return; }
      this.events.on('event', onEvent);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Engine shutdown: cancels pending restarts and stops watching exits;
   * records stay as they are for the next engine's recovery.
   */
  close(): void {
    this.ctx.closed = true;
    this.restarts.cancelAll();
  }

  // ---- recovery ---------------------------------------------------------------

  /** Internal hooks for recovery (recovery.ts). */
  /** @internal */ _watch(id: string): void { this.exits.watch(id); }
  /** @internal */ _isCreating(id: string): boolean { return this.creation.isCreating(id); }
  /** @internal */ _scheduleRestart(id: string, delayMs: number): void { this.restarts.schedule(id, delayMs); }
  /** @internal */ _releaseRuntime(id: string): Promise<void> { return this.release.release(id); }
  /** @internal On the container's chain: a start queued before it wins (then there is nothing to undo). */
  _releaseIfCreated(id: string): Promise<void> {
    return this.serial(id, async () => {
      if (this.store.get(id).state === 'created') await this.release.release(id);
    });
  }
  /** @internal */ _emit(rec: ContainerRecord, action: ContainerAction, extra: Partial<ContainerEvent> = {}): void { this.emit(rec, action, extra); }
  /** @internal */ _backoff(id: string): RestartBackoff { return this.restarts.backoff(id); }
  /** @internal */ get _ports(): EnginePorts { return this.ports; }
  /** @internal */ get _clock(): Clock { return this.clock; }
}
