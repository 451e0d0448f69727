// Recovery after an engine restart: reconcile the stored records with what
// the namespaces service (whose monitors outlive the engine) reports, then
// apply restart policies.
//
// Per record (decideRecovery is the pure table; recover applies it):
//   stored running|paused, process alive      -> keep; re-watch for its exit (pid refreshed)
//   stored running|paused, monitor has exit    -> exited with that code and time; policy decides restart
//   stored running|paused, nothing known       -> exited 255, error "process lost..."; policy decides
//   stored restarting (timer died with us)     -> restart (if the policy still allows)
//   stored exited                              -> restart if always, or unless-stopped and not
//                                                 stopped by the user (Docker's daemon-start rule);
//                                                 on-failure only if it failed and was not stopped by
//                                                 the user (Docker ignores the user stop here, which
//                                                 restarts containers people stopped: we do not)
//   stored exited                              -> release the runtime again first (idempotent; the
//                                                 engine may have died between committing the exit
//                                                 and releasing)
//   stored created, root prepared              -> nothing; a process the namespaces service
//                                                 has for it (a start cut short) is released
//   stored created, no root (engine died inside create) -> discard the record
//   exited (now or before) with AutoRemove (--rm)       -> remove it, as its exit handling would have
//
// The engine gives recovery a RecoveryHost (Engine.recoveryHost()): the
// records, the ports, and the few lifecycle steps recovery applies, nothing
// else of its insides.
import { isNotFound, isUnavailable } from '@berth/errors';
import type { ContainerStore } from './container-store';
import type { ContainerAction, ContainerEvent } from './events';
import type { EnginePorts, ExitStatus } from './ports';
import { policyWantsRestart } from './restart';
import { logBoundsOf, type ContainerRecord } from './types';
import type { VolumeStore } from './volumes';

/** What recovery needs of the engine. */
export interface RecoveryHost {
  readonly store: ContainerStore;
  readonly volumes: VolumeStore;
  readonly ports: EnginePorts;
  /** Epoch ms on the engine's clock. */
  now(): number;
  /** Announces a change of `rec` already committed to the store. */
  emit(rec: ContainerRecord, action: ContainerAction, extra?: Partial<ContainerEvent>): void;
  /** True while this engine is creating `id` (its record has no root yet, and is no leftover). */
  isCreating(id: string): boolean;
  /** Arms the exit watcher of a container whose process is alive. */
  watchExit(id: string): void;
  /** Releases what the container's process holds (idempotent; lifecycle/release.ts). */
  releaseRuntime(id: string): Promise<void>;
  /** The same on the container's operation chain, if it is still created then (a start queued before wins). */
  releaseIfCreated(id: string): Promise<void>;
  /** Restarts the container after its restart backoff (lifecycle/restarts.ts). */
  scheduleRestart(id: string): void;
  /** docker rm (--rm of a container that exited while the engine was down). */
  remove(id: string, opts: { volumes: boolean }): Promise<void>;
}

export interface Observed {
  pid: number;
  running: boolean;
  exit: ExitStatus | null;
}

export interface RecoveryAction {
  id: string;
  /** Process still alive: keep state, re-arm the exit watcher. */
  watch: boolean;
  /** New pid when alive. */
  pid?: number;
  /** The exit to record (the container was running while the engine was down). */
  exit?: ExitStatus & { error: string };
  /** Start it again now (through the restart path, counting as a restart). */
  restart: boolean;
  /** A create the engine died in the middle of: release what it may hold and drop the record. */
  discard?: boolean;
}

export const LOST_EXIT_CODE = 255;

export function decideRecovery(rec: ContainerRecord, obs: Observed | undefined, now: number): RecoveryAction {
  const base: RecoveryAction = { id: rec.id, watch: false, restart: false };
  const policy = rec.hostConfig.autoRemove ? { name: 'no' as const, maximumRetryCount: 0 } : rec.hostConfig.restartPolicy;
  switch (rec.state) {
    case 'running':
    case 'paused': {
      if (obs?.running) return { ...base, watch: true, pid: obs.pid };
      const exit = obs?.exit
        ? { ...obs.exit, error: '' }
        : { exitCode: LOST_EXIT_CODE, signal: '', oomKilled: false, exitedAt: now, error: 'process lost while the engine was down: no exit status was kept' };
      return { ...base, exit, restart: policyWantsRestart(policy, rec.restartCount, { exitCode: exit.exitCode, manuallyStopped: rec.manuallyStopped }) };
    }
    case 'restarting':
      return { ...base, restart: policyWantsRestart(policy, rec.restartCount, { exitCode: rec.exitCode, manuallyStopped: rec.manuallyStopped }) };
    case 'exited':
      if (policy.name === 'always') return { ...base, restart: true };
      return { ...base, restart: policyWantsRestart(policy, rec.restartCount, { exitCode: rec.exitCode, manuallyStopped: rec.manuallyStopped }) };
    case 'created':
      return rec.rootfs === '' ? { ...base, discard: true } : base;
    default:
      return base;
  }
}

/**
 * Drops a create the engine died in the middle of (the record inserted, its
 * root never recorded): writable root, image hold and volume refs, then the
 * record. Port removals are idempotent and tolerate absence; the image hold
 * is keyed by the container id alone, so it goes even when the crash came
 * before create recorded the image digest. An unavailable service fails it
 * (the record stays, for the next try) rather than leaking the root.
 */
export async function discardInterruptedCreate(engine: Pick<RecoveryHost, 'ports' | 'store' | 'volumes'>, rec: ContainerRecord): Promise<void> {
  const { ports } = engine;
  const unlessUnavailable = (e: unknown) => { if (isUnavailable(e)) throw e; };
  await ports.layers.remove(rec.id).catch(unlessUnavailable);
  await ports.images.removeContainerRef(rec.imageDigest, rec.id).catch(unlessUnavailable);
  engine.volumes.removeRefs(rec.id);
  try {
    engine.store.delete(rec.id);
  } catch (e) {
    if (!isNotFound(e)) throw e; // discarded meanwhile (recovery and a create by its name race for it)
  }
}

/** Runs recovery for every record; returns the actions taken (for logs and tests). */
export async function recover(source: { recoveryHost(): RecoveryHost }): Promise<RecoveryAction[]> {
  const engine = source.recoveryHost();
  const { ports } = engine;
  const observed = new Map((await ports.namespaces.list()).map((o) => [o.id, o]));
  const actions: RecoveryAction[] = [];
  for (const listed of engine.store.list({ all: true }).reverse()) { // oldest first, like Docker's start order
    // Read again: the engine serves while this runs (every step below
    // awaits), so a client may have removed it since the list was read (a
    // retried rm of an exited container); acting on the stale record would
    // start a copy of its log, making its state dir again after the removal
    // took it away (chaos: containers/<id> left with no record).
    let rec: ContainerRecord;
    try {
      rec = engine.store.get(listed.id);
    } catch (e) {
      if (isNotFound(e)) continue;
      throw e;
    }
    const a = decideRecovery(rec, observed.get(rec.id), engine.now());
    actions.push(a);
    if (a.watch) {
      if (a.pid !== rec.pid) engine.store.update(rec.id, (c) => ({ ...c, pid: a.pid! }));
      // The copy of its log first: the watcher may see the exit at once, and
      // the release after it waits only for a copy that is running.
      ports.namespaces.mirrorLogs?.(rec.id, rec.logPath, logBoundsOf(rec.hostConfig));
      engine.watchExit(rec.id);
      continue;
    }
    if (rec.state === 'created' && rec.rootfs !== '' && observed.has(rec.id)) {
      // A start the engine died in (the process made, perhaps even running,
      // the start never committed: no client was told it started): undone,
      // so the container is created again and a retried start runs it anew.
      await engine.releaseIfCreated(rec.id);
      continue;
    }
    if (a.discard) {
      // Read again: the engine serves while this runs, so a create that came
      // after the start (before this list was read) may be in progress, or
      // done by now; only a record still without a root and not being
      // created here is a leftover.
      let fresh: ContainerRecord;
      try {
        fresh = engine.store.get(rec.id);
      } catch (e) {
        if (isNotFound(e)) continue;
        throw e;
      }
      if (fresh.rootfs === '' && !engine.isCreating(rec.id)) await discardInterruptedCreate(engine, fresh);
      continue;
    }
    let cur = rec;
    // handleExit commits the exit before releasing, so an engine that died in
    // between left an exited container holding its process, network or
    // cgroup. Releasing is idempotent (absent things are fine): do it again.
    // Before a release deletes the process's own log, copy what the engine's
    // log lacks: the lines written while the engine was down.
    if (rec.state === 'exited' || a.exit) ports.namespaces.mirrorLogs?.(rec.id, rec.logPath, logBoundsOf(rec.hostConfig));
    if (rec.state === 'exited') await engine.releaseRuntime(rec.id);
    if (a.exit) {
      await engine.releaseRuntime(rec.id);
      const e = a.exit;
      cur = engine.store.transition(rec.id, 'exit', () => ({ exitCode: e.exitCode, oomKilled: e.oomKilled, finishedAt: e.exitedAt, pid: 0, error: e.error }));
      if (e.oomKilled) engine.emit(cur, 'oom');
      engine.emit(cur, 'die', { exitCode: e.exitCode });
      if (!a.restart) engine.emit(cur, 'exited', { exitCode: e.exitCode });
    }
    if (a.restart) {
      if (cur.state === 'exited') cur = engine.store.transition(rec.id, 'restarting');
      engine.scheduleRestart(rec.id);
    } else if (cur.state === 'restarting') {
      // The policy no longer allows it (on-failure count reached): settle as exited.
      cur = engine.store.transition(rec.id, 'exit');
      engine.emit(cur, 'exited', { exitCode: cur.exitCode });
    } else if (cur.state === 'exited' && rec.hostConfig.autoRemove) {
      // --rm (HostConfig.AutoRemove): exited while the engine was down, or
      // the engine died between committing the exit and removing it.
      await engine.remove(rec.id, { volumes: true });
    }
  }
  // The images service's holds follow the records that remain. Best effort:
  // with the images service down, the next start reconciles again.
  const held = new Map(engine.store.list({ all: true }).filter((r) => r.imageDigest).map((r) => [r.id, r.imageDigest]));
  await ports.images.reconcileContainerRefs(held).catch(() => {});
  return actions;
}
