// The engine's local API (containerd's local.go): the Engine class is a
// facade over modules of one concern each, all sharing one EngineContext
// (context.ts: records, ports, events, the per-container operation chain,
// peer retry). Every state change is committed to the store first and
// announced second; service calls that create things run as sagas.
//
//   lifecycle/  create, start, stop (signals, pause), remove (rm, prune, --rm),
//               update (rename, update), exits (watch and handle an exit),
//               restarts (policy timers and backoffs), release (what a process
//               holds), shared-network (--network container:), signals
//   queries/    stats, top, logs, wait (and the end of an attached run)
//   io/         exec, copy (docker cp)
//   volume-mounts.ts  the create saga's volumes step; container-commit.ts  commit
//   recovery.ts reaches the engine only through recoveryHost()
//   root-reconcile.ts  writable roots no container owns, removed at start
//               and after a layers call with an unknown outcome
//
// The gRPC layer (service.ts) maps wire messages onto this API and back.
import type { LogEntry } from '@berth/cri-log';
import type { ContainerUpdate } from '@berth/container-config';
import { EngineContext, type EngineOptions } from './context';
import { ContainerCommit, type CommitOptions } from './container-commit';
import type { ContainerStore, ListOptions } from './container-store';
import type { EngineEvents } from './events';
import { ContainerExec, type ExecRequest } from './io/exec';
import { ContainerCopy } from './io/copy';
import type { CopyToOptions, PathStat } from './copy';
import type { ExtractResult } from '@berth/tar';
import { ContainerCreation, type CreateRequest } from './lifecycle/create';
import { ExitHandling } from './lifecycle/exits';
import { RuntimeRelease } from './lifecycle/release';
import { ContainerRemoval } from './lifecycle/remove';
import { RestartScheduler } from './lifecycle/restarts';
import { ContainerStart } from './lifecycle/start';
import { ContainerSignals } from './lifecycle/stop';
import { ContainerUpdates } from './lifecycle/update';
import { connectNetwork, disconnectNetwork, type ConnectOptions } from './network-connect';
import type { ExitStatus } from './ports';
import { ContainerLogs, type LogsOptions } from './queries/logs';
import { ContainerStats, type StatsSample } from './queries/stats';
import { ContainerTop } from './queries/top';
import { ContainerWaits } from './queries/wait';
import type { RecoveryHost } from './recovery';
import { RootReconcile } from './root-reconcile';
import { closeEngineState } from './state-modes';
import { countContainers, type ContainerCounts } from './summary';
import type { TopResult } from './top';
import type { ContainerRecord, EndpointSettings } from './types';
import type { VolumeStore } from './volumes';

export type { EngineOptions } from './context';

export type { CreateRequest } from './lifecycle/create';
export { normalizeSignal } from './lifecycle/signals';

export type { LogsOptions } from './queries/logs';
export type { ExecRequest } from './io/exec';
export type { StatsSample } from './queries/stats';
export type { CommitOptions } from './container-commit';

/** Update of a live or stopped container (docker update); undefined fields are unchanged. */
export type UpdateRequest = ContainerUpdate;

export class Engine {
  readonly store: ContainerStore;
  readonly volumes: VolumeStore;
  readonly events: EngineEvents;
  /** What the modules share: records, ports, events, the operation chain, peer retry (context.ts). */
  private readonly ctx: EngineContext;
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
  private readonly statsQuery: ContainerStats;
  private readonly topQuery: ContainerTop;
  private readonly logsQuery: ContainerLogs;
  private readonly waits: ContainerWaits;
  private readonly execs: ContainerExec;
  private readonly copies: ContainerCopy;
  private readonly commits: ContainerCommit;
  /** Releasing what a process holds in the other services (lifecycle/release.ts). */
  private readonly release: RuntimeRelease;

  /** Writable roots no container owns, removed (root-reconcile.ts). */
  private readonly roots: RootReconcile;

  constructor(o: EngineOptions) {
    this.roots = new RootReconcile({
      store: o.store,
      layers: o.ports.layers,
      isCreating: (id) => this.creation.isCreating(id),
      stopped: () => this.ctx.closed,
      warn: (msg) => this.ctx.warn(msg),
    });
    // Every layers call whose outcome is unknown is followed by a pass.
    this.ctx = new EngineContext({ ...o, ports: { ...o.ports, layers: this.roots.watch(o.ports.layers) } });
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
    this.statsQuery = new ContainerStats(this.ctx);
    this.topQuery = new ContainerTop(this.ctx);
    this.logsQuery = new ContainerLogs(this.ctx);
    this.waits = new ContainerWaits(this.ctx, this.exits);
    this.execs = new ContainerExec(this.ctx);
    this.copies = new ContainerCopy(this.ctx);
    this.commits = new ContainerCommit(this.ctx);
    closeEngineState(this.ctx.stateDir);
    this.ctx.syncUsernsTraversal();
  }

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
    return this.ctx.serial(rec.id, () => connectNetwork(this.ctx, rec.id, network, opts));
  }

  /** docker network disconnect (network-connect.ts); force drops a connection to a network that is gone. */
  async disconnectNetwork(ref: string, network: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = this.store.find(ref);
    return this.ctx.serial(rec.id, () => disconnectNetwork(this.ctx, rec.id, network, opts));
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
   * docker commit (container-commit.ts): the writable layer as a new image on
   * top of the container's, config = the container's with `changes` applied.
   */
  commit(ref: string, o: CommitOptions = {}): Promise<string> {
    return this.commits.commit(ref, o);
  }

  /** Counts for `berth info`. */
  info(): ContainerCounts & { volumes: number } {
    return { ...countContainers(this.store.list({ all: true })), volumes: this.volumes.list().length };
  }

  // ---- stats / top -----------------------------------------------------------------

  /**
   * docker stats for many containers in one stream (queries/stats.ts): one
   * sample per intervalMs while `stream` (else one), until `signal` aborts.
   * `refs` empty = all running (all with `all`).
   */
  stats(refs: string[], opts: { all?: boolean; stream?: boolean; intervalMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<StatsSample[]> {
    return this.statsQuery.stats(refs, opts);
  }

  /** docker top: host ps rows of the container's processes (queries/top.ts). */
  top(ref: string, psArgs: string[] = []): Promise<TopResult> {
    return this.topQuery.top(ref, psArgs);
  }

  // ---- exec --------------------------------------------------------------------

  /**
   * docker exec (io/exec.ts): runs a process in a running container.
   * Resolves once it is started with its exec id and a promise of its exit
   * code; exec_started and exec_died are announced.
   */
  exec(ref: string, req: ExecRequest): Promise<{ execId: string; exitCode: Promise<number> }> {
    return this.execs.exec(ref, req);
  }

  // ---- cp (io/copy.ts) --------------------------------------------------------

  /** The container's record with its writable root mounted when no process shows it (cp, export). */
  mountedRecord(ref: string): Promise<ContainerRecord> {
    return this.copies.mountedRecord(ref);
  }

  /** docker export: the record with its root mounted; export is announced. */
  exportRecord(ref: string): Promise<ContainerRecord> {
    return this.copies.exportRecord(ref);
  }

  /** docker cp's stat of `path` in the container. */
  statPath(ref: string, path: string): Promise<PathStat> {
    return this.copies.statPath(ref, path);
  }

  /** docker cp out: `consume` reads the path's tar while a running container is frozen; archive-path is announced. */
  copyFrom(ref: string, path: string, consume: (stat: PathStat, tar: AsyncGenerator<Buffer>) => Promise<void>): Promise<void> {
    return this.copies.copyFrom(ref, path, consume);
  }

  /** docker cp in: extracts `data` at `path`, a running container frozen meanwhile; extract-to-dir is announced. */
  copyTo(ref: string, path: string, data: AsyncIterable<Buffer>, opts: CopyToOptions): Promise<ExtractResult> {
    return this.copies.copyTo(ref, path, data, opts);
  }

  // ---- queries ---------------------------------------------------------------

  /** docker logs, from the engine's copy of the container's log (queries/logs.ts). */
  logs(ref: string, opts: LogsOptions = {}): AsyncGenerator<LogEntry> {
    return this.logsQuery.logs(ref, opts);
  }

  /** Reopens the engine's copy of a running container's log at its path (queries/logs.ts). */
  reopenLog(ref: string): Promise<void> {
    return this.logsQuery.reopen(ref);
  }

  inspectRecord(ref: string): ContainerRecord {
    return this.store.find(ref);
  }

  list(opts?: ListOptions): ContainerRecord[] {
    return this.store.list(opts);
  }

  /**
   * docker wait (queries/wait.ts): resolves with the exit code. "not-running"
   * returns at once for a stopped container, else at the next death;
   * "next-exit" always waits for the next death; "removed" waits until the
   * record is gone. `signal` abandons the wait: the promise rejects.
   */
  wait(ref: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal): Promise<number> {
    return this.waits.wait(ref, condition, signal);
  }

  /**
   * The end of the run about to start (RunAttached), registered before the
   * start: resolves once the next exit of `id` is committed and, with --rm,
   * handled (queries/wait.ts). `signal` abandons it: rejects with Cancelled.
   */
  runEnd(id: string, signal?: AbortSignal): Promise<{ exitCode: number; oomKilled: boolean; removed: boolean }> {
    return this.waits.runEnd(id, signal);
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

  /**
   * Removes the writable roots the layers service keeps that no container
   * and no create in flight owns (root-reconcile.ts); returns their keys.
   * Recovery runs it at start; the engine runs it itself after a layers call
   * with an unknown outcome.
   */
  reconcileRoots(): Promise<string[]> {
    return this.roots.run();
  }

  /** What recovery (recovery.ts) may do to this engine's containers, and nothing else. */
  recoveryHost(): RecoveryHost {
    const { ctx } = this;
    return {
      store: ctx.store,
      volumes: ctx.volumes,
      ports: ctx.ports,
      now: () => ctx.clock.now(),
      emit: (rec, action, extra) => ctx.emit(rec, action, extra),
      isCreating: (id) => this.creation.isCreating(id),
      watchExit: (id) => this.exits.watch(id),
      releaseRuntime: (id) => this.release.release(id),
      releaseIfCreated: (id) => ctx.serial(id, async () => {
        if (ctx.store.get(id).state === 'created') await this.release.release(id);
      }),
      scheduleRestart: (id) => this.restarts.schedule(id, this.restarts.backoff(id).next(0)),
      remove: (id, opts) => this.removal.remove(id, opts),
    };
  }
}
