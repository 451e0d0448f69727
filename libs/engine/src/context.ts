// What every engine module shares, as containerd's local services share a
// metadata store and a publisher: the records and volumes, the ports to the
// other services, the event emitter and the clock, plus the mechanisms all
// the modules run their work through:
//   - serial: the operation chain per container (operation-chain.ts);
//   - emit: an event, called only after the store committed the change it
//     reports (order created -> started -> die -> exited -> removed);
//   - runSteps: a run saga with fault injection, undos that ride out a peer
//     being restarted (peer-retry.ts) and step timing;
//   - whileUnavailable and timed, for work outside a saga.
// The Engine facade (engine.ts) builds one and hands it to each module.
import { ContainerStore } from './container-store';
import { EngineEvents, type ContainerAction, type ContainerEvent } from './events';
import { withFailpoints } from './failpoints';
import { OperationChains } from './operation-chain';
import { PeerRetry, UNAVAILABLE_RETRY_MS } from './peer-retry';
import type { EnginePorts } from './ports';
import { systemClock, type Clock } from './restart';
import { runSaga, type SagaHooks, type SagaStep } from './saga';
import { syncUsernsTraversal } from './state-modes';
import { runPs } from './top';
import type { ContainerConfig, ContainerRecord } from './types';
import { VolumeStore } from './volumes';

export interface EngineOptions {
  store: ContainerStore;
  volumes: VolumeStore;
  ports: EnginePorts;
  /** Root of the engine's state: containers/<id>/container.log, volumes/. */
  stateDir: string;
  /** BERTH_ROOT, which gets the traversal grants of --userns auto containers (state-modes.ts); unset in tests. */
  stateRoot?: string;
  events?: EngineEvents;
  clock?: Clock;
  /** Seconds between the stop signal and SIGKILL when the container sets none (Docker: 10). */
  defaultStopTimeoutS?: number;
  /** Runs host ps for top (injected in tests). */
  ps?: (args: string[]) => Promise<string>;
  /** Where non-fatal errors (cleanup after exit) are reported. */
  warn?: (msg: string) => void;
  /**
   * Observes how long each step of the run path took (seconds, wall clock):
   * the saga steps by name, plus `exitNotify` (process exit -> exit handled),
   * `releaseRuntime` and `remove`. The service feeds berth_engine_run_step_seconds.
   */
  onStepTimed?: (step: string, seconds: number) => void;
  /** Run steps armed for fault injection (failpoints.ts; BERTH_ENGINE_FAILPOINTS). Default none. */
  failpoints?: ReadonlySet<string>;
  /** How long releases and undos keep calling an unavailable service (UNAVAILABLE_RETRY_MS; BERTH_ENGINE_PEER_RETRY_MS). */
  unavailableRetryMs?: number;
}

/** The longest wait a timer can take (ms): "wait for ever" in calls that take a timeout. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long after its create a start trusts that the root is still mounted. */
const FRESH_ROOT_MS = 10_000;

export class EngineContext {
  readonly store: ContainerStore;
  readonly volumes: VolumeStore;
  readonly ports: EnginePorts;
  readonly events: EngineEvents;
  readonly clock: Clock;
  readonly stateDir: string;
  readonly stateRoot: string | undefined;
  readonly defaultStopTimeoutS: number;
  readonly warn: (msg: string) => void;
  readonly ps: (args: string[]) => Promise<string>;
  readonly onStepTimed: ((step: string, seconds: number) => void) | undefined;
  private readonly failpoints: ReadonlySet<string>;
  private readonly chains = new OperationChains();
  private readonly peers: PeerRetry;
  /** Set when the engine closes: exit watchers stop, peer retries give up. */
  closed = false;
  /**
   * Writable roots this engine's create has just mounted (id -> when): the
   * start that follows within FRESH_ROOT_MS (docker run) skips mountRoot's
   * Mount, which would find it mounted. Taken by the start, dropped by a
   * removal.
   */
  readonly freshRoots = new Map<string, number>();

  constructor(o: EngineOptions) {
    this.store = o.store;
    this.volumes = o.volumes;
    this.ports = o.ports;
    this.stateDir = o.stateDir;
    this.stateRoot = o.stateRoot;
    this.events = o.events ?? new EngineEvents();
    this.clock = o.clock ?? systemClock;
    this.defaultStopTimeoutS = o.defaultStopTimeoutS ?? 10;
    this.warn = o.warn ?? (() => {});
    this.ps = o.ps ?? runPs;
    this.onStepTimed = o.onStepTimed;
    this.failpoints = o.failpoints ?? new Set();
    this.peers = new PeerRetry(o.unavailableRetryMs ?? UNAVAILABLE_RETRY_MS, () => this.closed, this.warn);
  }

  /** True when create mounted `id`'s root moments ago (see freshRoots); forgets it. */
  takeFreshRoot(id: string): boolean {
    const at = this.freshRoots.get(id);
    this.freshRoots.delete(id);
    return at !== undefined && this.clock.now() - at < FRESH_ROOT_MS;
  }

  /** Orders lifecycle operations per container (operation-chain.ts). */
  serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.chains.run(id, fn);
  }

  /** Announces a change of `rec` already committed to the store. */
  emit(rec: ContainerRecord, action: ContainerAction, extra: Partial<ContainerEvent> = {}): void {
    this.events.publish({ id: rec.id, name: rec.name, image: rec.image, action, time: this.clock.now(), labels: rec.config.labels, ...extra });
  }

  /** `fn` again while the service it calls is unavailable (peer-retry.ts). */
  whileUnavailable<T>(fn: () => Promise<T>): Promise<T> {
    return this.peers.whileUnavailable(fn);
  }

  /** Runs a saga of run steps: armed failpoints fail, undos ride out a restarting peer, each step is timed. */
  runSteps<C extends { config: ContainerConfig }>(steps: SagaStep<C>[], c: C): Promise<void> {
    const f = this.onStepTimed;
    const hooks: SagaHooks = f ? { onTimed: (step, seconds) => f(step, seconds) } : {};
    return runSaga(this.peers.retryingUndo(withFailpoints(steps, this.failpoints)), c, hooks);
  }

  /** Times `fn` as run-path step `step` when someone observes steps. */
  async timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
    if (!this.onStepTimed) return fn();
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.onStepTimed(step, (performance.now() - t0) / 1000);
    }
  }

  /** Traversal grants for --userns auto containers, recomputed from the records (state-modes.ts). */
  syncUsernsTraversal(): void {
    const holders = this.store.list({ all: true }).flatMap((r) => (r.idMapping
      ? [{ id: r.id, idMapping: r.idMapping, volumes: r.mounts.flatMap((m) => (m.type === 'volume' ? [m.name] : [])) }]
      : []));
    try {
      syncUsernsTraversal(this.stateDir, this.stateRoot, holders);
    } catch (e) {
      this.warn(`cannot set the --userns auto traversal grants on ${this.stateDir}: ${(e as Error).message}`);
    }
  }
}
