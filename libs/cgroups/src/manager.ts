// CgroupsManager: the cgroups service's logic, callable and testable without
// gRPC (containerd's local.go). Each public method is one RPC of
// berth.cgroups.v1.Cgroups; the gRPC handler only maps wire types and errors.
//
// Ownership: every cgroup lives at <parent>/<id>, where parent defaults to
// the manager's parent ("berth") and may be a nested pod parent
// ("berth/pod-x"), but always inside the manager's parent. Nothing outside that
// subtree is created, limited or removed (v2's ancestor subtree_control is the
// one documented exception, see v2/driver.ts).
//
// Events: 'oom' (id, newKills, totalKills) each time the kernel reports OOM
// kills in a container's cgroup; the service wires it to NATS
// berth.cgroups.container.oom.
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import {
  AlreadyExistsError,
  ErrorCode,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  isNotFound,
  makeError,
} from '@berth/errors';
import type { CgroupDriver, OomWatch } from './driver';
import { detectCgroupLayout } from './layout';
import { V1Driver } from './v1/driver';
import { V2Driver } from './v2/driver';
import { type LinuxResources, formatBytes, mergeResources, validateResources } from './resources';
import type { CgroupLimits, CgroupStats } from './stats';
import { CgroupStateStore, type CgroupRecord } from './state';
import { sleep } from './cgroupfs';

export interface CgroupsManagerOptions {
  /** Directory for the per-cgroup JSON records (names, labels, OOM counts). */
  stateDir: string;
  /** Parent cgroup, relative to the cgroup root; default "berth". */
  parent?: string;
  /** Driver to use; default: detected from the host (BERTH_CGROUP_DRIVER overrides). */
  driver?: CgroupDriver;
  /** How long freeze waits for the kernel to report frozen; default 10 s. */
  freezeTimeoutMs?: number;
  /** How long killAll waits for the cgroup to empty; default 10 s. */
  killTimeoutMs?: number;
  /** Called on every OOM kill report, besides the 'oom' event. */
  onOom?: (id: string, newKills: number, totalKills: number) => void;
}

export interface CreateCgroupOptions {
  /** Parent under the manager's parent ("berth/pod-x"); default the manager's parent. */
  parent?: string;
  /**
   * A path below the manager's parent ("kubepods/besteffort/pod<uid>", a
   * leading "/" allowed as kubelet writes it): the cgroup goes at
   * <manager parent>/<nestedParent>/<id>. Exclusive with parent.
   */
  nestedParent?: string;
  resources?: LinuxResources;
  labels?: Record<string, string>;
  /** Container name for metrics. */
  name?: string;
  /** Image reference for metrics. */
  image?: string;
}

/** What List/Get/Create/Update return about a cgroup. */
export interface CgroupInfo {
  id: string;
  /** Cgroup path relative to the cgroup root ("berth/abc"); cAdvisor's "id" label is "/" + path. */
  path: string;
  parent: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  resources: LinuxResources;
  createdAt: number;
  oomKills: number;
}

/** Stats RPC result: counters, limits in force and OOM kills. */
export interface ContainerStats extends CgroupStats {
  id: string;
  limits: CgroupLimits;
  oomKills: number;
  /** When the files were read, ms since the epoch. */
  timestamp: number;
}

export interface ReconcileResult {
  /** Cgroups removed because their container is gone. */
  removed: string[];
  /** Cgroups kept (container still exists); OOM watching re-armed. */
  kept: string[];
  /** Cgroups that should have gone but could not be removed (processes that would not die...), with why. */
  failed: { id: string; reason: string }[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function checkId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new InvalidArgumentError(`id: "${id}" is not a valid cgroup name (letters, digits, _ . -; at most 128; not starting with a symbol)`, { field: 'id' });
  }
}

function checkParentPath(p: string, field: string): string {
  const segments = p.split('/').filter(Boolean);
  if (segments.length === 0 || segments.some((s) => !ID.test(s))) {
    throw new InvalidArgumentError(`${field}: "${p}" is not a cgroup path (segments of letters, digits, _ . -; no "..")`, { field });
  }
  return segments.join('/');
}

export class CgroupsManager extends EventEmitter {
  readonly driver: CgroupDriver;
  readonly parent: string;
  private readonly store: CgroupStateStore;
  private readonly records = new Map<string, CgroupRecord>();
  private readonly oomWatches = new Map<string, OomWatch>();
  /** Ids with a create in progress (create awaits, so two calls could interleave), with their parents. */
  private readonly creating = new Map<string, string>();
  private readonly freezeTimeoutMs: number;
  private readonly killTimeoutMs: number;
  private readonly onOomCallback: CgroupsManagerOptions['onOom'];

  constructor(opts: CgroupsManagerOptions) {
    super();
    this.parent = checkParentPath(opts.parent ?? 'berth', 'parent');
    this.driver = opts.driver ?? defaultDriver();
    this.store = new CgroupStateStore(opts.stateDir);
    this.freezeTimeoutMs = opts.freezeTimeoutMs ?? 10_000;
    this.killTimeoutMs = opts.killTimeoutMs ?? 10_000;
    this.onOomCallback = opts.onOom;
    for (const rec of this.store.loadAll()) this.records.set(rec.id, rec);
  }

  private pathOf(rec: CgroupRecord): string {
    return `${rec.parent}/${rec.id}`;
  }

  private record(id: string): CgroupRecord {
    checkId(id);
    const rec = this.records.get(id);
    if (!rec) throw new NotFoundError(`cgroup ${id} not found (no container cgroup with that id under ${this.parent})`, { field: 'id' });
    return rec;
  }

  private resolveParent(parent: string | undefined, nested?: string): string {
    if (nested) {
      if (parent) throw new InvalidArgumentError('parent and nested_parent were both given; give one', { field: 'nested_parent' });
      return `${this.parent}/${checkParentPath(nested, 'nested_parent')}`;
    }
    if (parent === undefined || parent === '') return this.parent;
    const p = checkParentPath(parent, 'parent');
    if (p !== this.parent && !p.startsWith(`${this.parent}/`)) {
      throw new InvalidArgumentError(`parent: "${parent}" is outside berth's cgroup parent "${this.parent}"; use "${this.parent}/<pod>"`, { field: 'parent' });
    }
    return p;
  }

  private info(rec: CgroupRecord): CgroupInfo {
    return { ...rec, path: this.pathOf(rec), labels: { ...rec.labels }, resources: structuredClone(rec.resources) };
  }

  /** Create: makes <parent>/<id> in every hierarchy, applies limits, starts OOM watching. */
  async create(id: string, opts: CreateCgroupOptions = {}): Promise<CgroupInfo> {
    checkId(id);
    const parent = this.resolveParent(opts.parent, opts.nestedParent);
    const resources = opts.resources ?? {};
    validateResources(resources);
    if (this.records.has(id) || this.creating.has(id)) throw new AlreadyExistsError(`cgroup ${id} already exists; delete it first or use update`, { field: 'id' });
    this.creating.set(id, parent);
    try {
      return await this.createLocked(id, parent, resources, opts);
    } catch (e) {
      // The levels this create made for its parent go with it.
      this.creating.delete(id);
      await this.pruneParents(parent);
      throw e;
    } finally {
      this.creating.delete(id);
    }
  }

  private async createLocked(id: string, parent: string, resources: LinuxResources, opts: CreateCgroupOptions): Promise<CgroupInfo> {
    if (this.records.has(parent.split('/').pop()!) && parent !== this.parent) {
      // A container cgroup cannot also be a pod parent (v2: no processes in inner nodes).
      throw new InvalidArgumentError(`parent: "${parent}" is a container cgroup, not a pod parent`, { field: 'parent' });
    }
    const path = `${parent}/${id}`;
    // A directory with no record is what this service leaves when it is
    // killed inside a create (the record is saved last): the caller's retry
    // of that create lands here. Nothing else makes cgroups under berth's
    // parent, and a container's process joins only after its create answered,
    // so an empty one is that create's leftover and is taken over (mkdir and
    // the limits below are idempotent). One with processes is not.
    if (await this.driver.exists(path)) {
      const pids = await this.driver.processes(path);
      if (pids.length > 0) {
        throw new AlreadyExistsError(`cgroup ${path} already exists on the host with ${pids.length} process(es) but berth has no record of it; run reconcile`, { field: 'id' });
      }
    }
    const rec: CgroupRecord = {
      id,
      parent,
      name: opts.name ?? '',
      image: opts.image ?? '',
      labels: { ...(opts.labels ?? {}) },
      resources,
      createdAt: Date.now(),
      oomKills: 0,
    };
    try {
      await this.driver.create(path);
      await this.driver.apply(path, resources);
      await this.watchOom(rec);
      this.store.save(rec);
    } catch (e) {
      // Nothing stays behind: no directory, no watch, no record.
      this.unwatchOom(id);
      await this.driver.remove(path).catch(() => undefined);
      throw e;
    }
    this.records.set(id, rec);
    return this.info(rec);
  }

  /** Update: applies changed limits to a live cgroup. Refuses limits below current usage. */
  async update(id: string, resources: LinuxResources): Promise<CgroupInfo> {
    const rec = this.record(id);
    validateResources(resources);
    const path = this.pathOf(rec);
    const usage = await this.driver.usage(path);
    const limit = resources.memory?.limit;
    if (limit !== undefined && limit > 0 && usage.memory > limit) {
      throw new FailedPreconditionError(
        `memory.limit: ${formatBytes(limit)} is below the container's current usage of ${formatBytes(usage.memory)}; free memory first or choose a higher limit`,
        { field: 'memory.limit' },
      );
    }
    // Docker's rule: memory+swap set earlier caps the memory limit, so raising
    // the limit past it needs the swap value in the same update.
    const storedSwap = rec.resources.memory?.swap;
    if (limit !== undefined && resources.memory?.swap === undefined && storedSwap !== undefined && storedSwap > 0 && (limit === -1 || limit > storedSwap)) {
      throw new InvalidArgumentError(
        `memory.limit: ${limit === -1 ? 'unlimited' : formatBytes(limit)} is above the memory+swap limit ${formatBytes(storedSwap)} already set; update memory.swap at the same time`,
        { field: 'memory.limit' },
      );
    }
    const pids = resources.pids?.limit;
    if (pids !== undefined && pids > 0 && usage.pids > pids) {
      throw new FailedPreconditionError(`pids.limit: ${pids} is below the ${usage.pids} tasks running now`, { field: 'pids.limit' });
    }
    await this.driver.apply(path, resources);
    rec.resources = mergeResources(rec.resources, resources);
    this.store.save(rec);
    return this.info(rec);
  }

  /** The container's name for the "name" metric label changed (a rename). */
  rename(id: string, name: string): CgroupInfo {
    const rec = this.record(id);
    rec.name = name;
    this.store.save(rec);
    return this.info(rec);
  }

  /** AddProcess: moves pid (with all its threads) into the container's cgroup. */
  async addProcess(id: string, pid: number): Promise<void> {
    const rec = this.record(id);
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new InvalidArgumentError(`pid: ${pid} is not a process id`, { field: 'pid' });
    try {
      await this.driver.addProcess(this.pathOf(rec), pid);
    } catch (e) {
      if ((e as { errno?: string }).errno === 'ESRCH') throw new NotFoundError(`pid: process ${pid} does not exist`, { field: 'pid', cause: e });
      throw e;
    }
  }

  /** Freeze: stops every task; resolves once the kernel reports the cgroup frozen. */
  async freeze(id: string): Promise<void> {
    await this.driver.freeze(this.pathOf(this.record(id)), this.freezeTimeoutMs);
  }

  /** Thaw: resumes a frozen cgroup. */
  async thaw(id: string): Promise<void> {
    await this.driver.thaw(this.pathOf(this.record(id)));
  }

  /** Stats: counters read now, the limits in force and OOM kills so far. */
  async stats(id: string): Promise<ContainerStats> {
    const rec = this.record(id);
    const path = this.pathOf(rec);
    const [stats, limits] = await Promise.all([this.driver.stats(path), this.driver.limits(path)]);
    return { id, ...stats, limits, oomKills: rec.oomKills, timestamp: Date.now() };
  }

  /** ListProcesses: pids in the cgroup. */
  async listProcesses(id: string): Promise<number[]> {
    return this.driver.processes(this.pathOf(this.record(id)));
  }

  /**
   * KillAll: signals every process and waits until the cgroup is empty. The
   * cgroup is frozen while signalling so nothing can fork a new child between
   * listing and killing (runc's signalAllProcesses); v2 with SIGKILL uses
   * cgroup.kill, which the kernel makes race-free itself.
   */
  async killAll(id: string, signal: NodeJS.Signals | number | string = 'SIGKILL', opts: { timeoutMs?: number } = {}): Promise<void> {
    const rec = this.record(id);
    const path = this.pathOf(rec);
    // The RPC carries the signal as text: a name ("SIGTERM", "TERM") or a number ("15"); empty = SIGKILL.
    const signo =
      typeof signal === 'number'
        ? signal
        : signal === ''
          ? osConstants.signals.SIGKILL
          : /^\d+$/.test(signal)
            ? Number(signal)
            : (osConstants.signals as Record<string, number | undefined>)[signal.startsWith('SIG') ? signal : `SIG${signal}`];
    if (signo === undefined || !Number.isInteger(signo) || signo <= 0 || signo > 64) {
      throw new InvalidArgumentError(`signal: ${String(signal)} is not a signal`, { field: 'signal' });
    }
    const timeoutMs = opts.timeoutMs || this.killTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const isKill = signo === osConstants.signals.SIGKILL;
    if (isKill && (await this.driver.killViaKernel(path))) {
      await this.waitEmpty(path, deadline);
      return;
    }
    // SIGKILL rounds repeat until empty; other signals are delivered once.
    for (let round = 0; ; round++) {
      let frozen = false;
      try {
        await this.driver.freeze(path, Math.min(2000, timeoutMs));
        frozen = true;
      } catch {
        // Freezing can fail (a task in D state); signal anyway, as runc does.
      }
      try {
        for (const pid of await this.driver.processes(path)) {
          try {
            process.kill(pid, signo);
          } catch (e) {
            if ((e as { code?: string }).code !== 'ESRCH') throw e;
          }
        }
      } finally {
        if (frozen) await this.driver.thaw(path);
      }
      if (!isKill || round > 0) break;
      await this.waitEmpty(path, Math.min(deadline, Date.now() + 500)).then(
        () => undefined,
        () => undefined,
      );
      if ((await this.driver.processes(path)).length === 0) return;
    }
    await this.waitEmpty(path, deadline);
  }

  private async waitEmpty(path: string, deadline: number): Promise<void> {
    for (;;) {
      const pids = await this.driver.processes(path);
      if (pids.length === 0) return;
      if (Date.now() > deadline) {
        throw makeError(ErrorCode.DeadlineExceeded, `cgroup ${path} still has ${pids.length} process(es) (${pids.slice(0, 10).join(', ')}) after signalling; they ignore the signal or are stuck`);
      }
      await sleep(10);
    }
  }

  /**
   * Delete: removes the cgroup in every hierarchy, also one a create this
   * service was killed in left without a record. Refuses while processes
   * remain unless force (SIGKILL them first).
   */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    checkId(id);
    const recorded = this.records.has(id);
    const rec = this.records.get(id) ?? (await this.unrecorded(id)) ?? this.record(id);
    const path = this.pathOf(rec);
    if (await this.driver.exists(path)) {
      const pids = await this.driver.processes(path);
      if (pids.length > 0) {
        if (!opts.force) {
          throw new FailedPreconditionError(`cgroup ${id} still has ${pids.length} process(es) (${pids.slice(0, 10).join(', ')}); kill them first or delete with force`);
        }
        if (recorded) await this.killAll(id, 'SIGKILL');
        else await this.killPath(path);
      }
      this.unwatchOom(id);
      await this.driver.remove(path);
    }
    this.unwatchOom(id);
    this.records.delete(id);
    await this.store.remove(id);
    await this.pruneParents(rec.parent);
  }

  /**
   * Removes `parent` and its ancestors below the manager's parent while they
   * are empty and no record or create in progress names them (or a level
   * below them): a pod's parent, or every level a nested_parent made. Best
   * effort: a create racing in makes the rmdir fail, and the level stays.
   */
  private async pruneParents(parent: string): Promise<void> {
    const inUse = (p: string): boolean => {
      const under = (q: string) => q === p || q.startsWith(`${p}/`);
      for (const r of this.records.values()) if (under(r.parent)) return true;
      for (const q of this.creating.values()) if (under(q)) return true;
      return false;
    };
    for (let p = parent; p.startsWith(`${this.parent}/`); p = p.slice(0, p.lastIndexOf('/'))) {
      if (inUse(p)) return;
      try {
        if (!(await this.driver.exists(p))) continue;
        if ((await this.driver.children(p)).length > 0) return;
        await this.driver.remove(p);
      } catch {
        return;
      }
    }
  }

  /**
   * A cgroup of this id on the host with no record (this service was killed
   * inside its create, between mkdir and saving the record), under the
   * manager's parent or a pod parent a record names; undefined if none. Delete
   * removes it, so the caller's rollback of that create leaves nothing.
   */
  private async unrecorded(id: string): Promise<CgroupRecord | undefined> {
    if (this.creating.has(id)) return undefined;
    const parents = new Set([this.parent, ...[...this.records.values()].map((r) => r.parent)]);
    for (const parent of parents) {
      if (await this.driver.exists(`${parent}/${id}`)) {
        return { id, parent, name: '', image: '', labels: {}, resources: {}, createdAt: 0, oomKills: 0 };
      }
    }
    return undefined;
  }

  /** List: every cgroup berth manages, sorted by id. */
  list(): CgroupInfo[] {
    return [...this.records.values()].sort((a, b) => a.id.localeCompare(b.id)).map((r) => this.info(r));
  }

  /** Get: one cgroup's record. */
  get(id: string): CgroupInfo {
    return this.info(this.record(id));
  }

  /**
   * Reconcile, run when the service starts: finds the cgroups under the parent
   * again (from the state records and from the hierarchy itself), removes
   * those whose containers are not in `existingIds` (killing what is left in
   * them) and re-arms OOM watching for the rest. Pod parents that end up empty
   * are removed too.
   */
  async reconcile(existingIds: Iterable<string>, asOfMs = Date.now()): Promise<ReconcileResult> {
    // Cgroups newer than the caller's id list, or still being created, belong
    // to containers the list could not name yet: they are kept as they are.
    const keep = new Set(existingIds);
    const newer = (id: string) => this.creating.has(id) || (this.records.get(id)?.createdAt ?? 0) > asOfMs;
    const removed: string[] = [];
    const kept: string[] = [];
    const failed: ReconcileResult['failed'] = [];
    // Pod parents as the records knew them before anything is removed.
    // Every level of them below the manager's parent (a nested_parent has several).
    const podParents = new Set<string>();
    for (const r of this.records.values()) {
      for (let p = r.parent; p.startsWith(`${this.parent}/`); p = p.slice(0, p.lastIndexOf('/'))) podParents.add(p);
    }
    for (const rec of [...this.records.values()]) {
      if (newer(rec.id)) continue;
      if (keep.has(rec.id)) {
        if (await this.driver.exists(this.pathOf(rec))) {
          kept.push(rec.id);
          if (!this.oomWatches.has(rec.id)) await this.watchOom(rec);
        } else {
          // The container exists but its cgroup is gone (host reboot): forget it; the runtime will create again.
          this.unwatchOom(rec.id);
          this.records.delete(rec.id);
          await this.store.remove(rec.id);
          removed.push(rec.id);
        }
        continue;
      }
      try {
        await this.delete(rec.id, { force: true });
        removed.push(rec.id);
      } catch (e) {
        // One stuck cgroup must not stop the service from starting.
        failed.push({ id: rec.id, reason: (e as Error).message });
      }
    }
    // Cgroups on the host with no record (a crash between mkdir and saving
    // state): remove them unless their container exists, in which case adopt.
    // Inside a stray (no record names it or anything below it: a nested
    // parent's levels a crash left before Delete pruned them, or a container's
    // own sub-cgroups), everything goes, deepest first: rmdir takes only
    // empty cgroups, and nothing in there is adopted.
    const scan = async (parent: string, inStray = false): Promise<void> => {
      for (const child of await this.driver.children(parent)) {
        const path = `${parent}/${child}`;
        if (!inStray && (this.records.get(child)?.parent === parent || newer(child))) continue;
        if (!inStray && podParents.has(path)) {
          await scan(path);
          continue;
        }
        if (!inStray && keep.has(child) && ID.test(child)) {
          const rec: CgroupRecord = { id: child, parent, name: '', image: '', labels: {}, resources: {}, createdAt: Date.now(), oomKills: 0 };
          this.records.set(child, rec);
          this.store.save(rec);
          await this.watchOom(rec);
          kept.push(child);
          continue;
        }
        try {
          if ((await this.driver.children(path)).length > 0) await scan(path, true);
          await this.killPath(path);
          await this.driver.remove(path);
          removed.push(child);
        } catch (e) {
          failed.push({ id: child, reason: (e as Error).message });
        }
      }
    };
    if (await this.driver.exists(this.parent)) await scan(this.parent);
    // Pod parents nothing lives in any more go too (deepest first).
    for (const p of [...podParents].sort((a, b) => b.length - a.length)) {
      if (!podParentInUse(p, this.records) && (await this.driver.exists(p)) && (await this.driver.children(p)).length === 0) {
        await this.driver.remove(p);
      }
    }
    return { removed: removed.sort(), kept: kept.sort(), failed };
  }

  /** SIGKILLs everything in an unrecorded cgroup (reconcile only). */
  private async killPath(path: string): Promise<void> {
    const deadline = Date.now() + this.killTimeoutMs;
    if (await this.driver.killViaKernel(path)) return this.waitEmpty(path, deadline);
    for (let pids = await this.driver.processes(path); pids.length > 0; pids = await this.driver.processes(path)) {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (Date.now() > deadline) return this.waitEmpty(path, deadline);
      await sleep(10);
    }
  }

  private async watchOom(rec: CgroupRecord): Promise<void> {
    try {
      const w = await this.driver.watchOom(this.pathOf(rec), (n) => {
        rec.oomKills += n;
        if (this.records.get(rec.id) === rec) this.store.save(rec);
        this.onOomCallback?.(rec.id, n, rec.oomKills);
        this.emit('oom', rec.id, n, rec.oomKills);
      });
      this.oomWatches.set(rec.id, w);
    } catch (e) {
      if (isNotFound(e)) return; // no memory controller files (a fake tree without them)
      throw e;
    }
  }

  private unwatchOom(id: string): void {
    this.oomWatches.get(id)?.close();
    this.oomWatches.delete(id);
  }

  /**
   * Stops OOM watching (cgroups and records stay). Call on service shutdown,
   * followed by oomEventLoop.shutdown() on cgroup v1 to end the notifier thread.
   */
  close(): void {
    for (const id of [...this.oomWatches.keys()]) this.unwatchOom(id);
  }
}

function podParentInUse(parent: string, records: Map<string, CgroupRecord>): boolean {
  for (const r of records.values()) if (r.parent === parent || r.parent.startsWith(`${parent}/`)) return true;
  return false;
}

/** The driver for this host: v1 or v2 from the mount table (BERTH_CGROUP_DRIVER overrides). */
export function defaultDriver(override?: string): CgroupDriver {
  const layout = detectCgroupLayout(override);
  if (layout.version === 'v1') return new V1Driver({ mounts: layout.v1Mounts });
  return new V2Driver({ root: layout.unifiedRoot! });
}
