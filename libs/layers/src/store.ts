// LayerStore: the layers service's logic, callable without gRPC (containerd's
// snapshots "local" service plus its diff applier). One method per RPC of
// protos/berth/layers/v1/layers.proto; the gRPC handler only maps messages.
//
// Model (docs/design/layers.md):
//  - committed snapshots are layers. applyLayer names them by chain ID, so a
//    layer shared by many images is stored once; commit() names them by the
//    given name or, without one, by the chain ID of the computed diff.
//  - active snapshots are writable container roots, views read-only roots;
//    both sit on a committed parent chain (or on nothing).
//  - a snapshot is referenced by its children (parent links); remove refuses
//    while any exist, garbageCollect removes exactly what no root reaches.
//  - everything new is built in <root>/tmp/<id>, then renamed to
//    <root>/snapshots/<id> and recorded in one transaction: a kill -9 at any
//    point leaves either nothing or the whole snapshot. open() clears tmp/,
//    unmounts what a previous run mounted under the root and removes
//    directories the metadata does not know.
// Layout: metadata.db, snapshots/<id>/, tmp/, mounts/<id>, l/ (overlay).
import { mkdirSync, readdirSync, renameSync, rmSync, rmdirSync, existsSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { randomBytes, createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { Readable, Transform, PassThrough, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { AlreadyExistsError, DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError, fromNodeError } from '@berth/errors';
import { closeDir, grantTraverse, revokeTraverse, umount, umountAsync, MNT } from '@berth/sys';
import type { DriverName, Mount, SnapshotDriver, SnapshotKind, Usage } from './driver';
import { snapshotDir } from './driver';
import { Metadata, type SnapshotRow } from './metadata';
import { OverlayDriver } from './drivers/overlay';
import { CopyDriver } from './drivers/copy';
import { chooseDriver } from './detect';
import { applyTar } from './apply';
import { compressionOf } from './mediatypes';
import { checkDigest, chainId as chainIdOf } from './digest';
import { tarChanges } from './difftar';
import { mountsUnder } from './mountinfo';
import { applyMount } from './mounter';
import { applyIdmappedMounts, validateIdMapping, type IdMapping } from './idmount';

export interface LayerStoreOptions {
  /** State directory, created if missing (e.g. /var/lib/berth/layers). */
  root: string;
  /** Force a driver; default: BERTH_SNAPSHOTTER, else probe the root for overlay. */
  driver?: DriverName;
}

export interface SnapshotInfo {
  /** Chain ID for layers from applyLayer, the caller's key otherwise. */
  key: string;
  kind: SnapshotKind;
  /** Key of the committed parent, null for a base. */
  parent: string | null;
  labels: Record<string, string>;
  /** DiffID of a committed layer when known (applyLayer, commit without a name). */
  diffId: string | null;
  /** Uncompressed tar size of a committed layer when known. */
  size: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface ApplyLayerOptions {
  /** One of the layer media types (mediatypes.ts): tar, tar+gzip, tar+zstd. */
  mediaType: string;
  /** DiffID the uncompressed tar must hash to (from the image config); checked when set. */
  expectedDiffId?: string;
  /** Chain ID of the layer below; omitted for an image's first layer. */
  parentChainId?: string;
  labels?: Record<string, string>;
}

export interface AppliedLayer {
  chainId: string;
  diffId: string;
  /** Uncompressed tar bytes. */
  size: number;
  /** True when the layer was already stored and the stream was not read. */
  existed: boolean;
}

export interface DiffOptions {
  /** 'gzip' for a tar+gzip blob (compressed digest reported), default 'none'. */
  compression?: 'none' | 'gzip';
}

export interface DiffResult {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** sha256 of the bytes streamed (equals diffId when uncompressed). */
  digest: string;
  /** Uncompressed tar bytes. */
  size: number;
  /** Bytes streamed. */
  compressedSize: number;
  mediaType: string;
}

export interface GcResult {
  /** Keys removed, children before parents. */
  removed: string[];
}

const KEY_MAX = 1024;

export class LayerStore {
  readonly root: string;
  readonly driverName: DriverName;
  /** Why the driver was chosen ("probe ok", "env", ...). */
  readonly driverReason: string;
  private readonly driver: SnapshotDriver;
  private readonly meta: Metadata;
  /** Keys in use by an async operation (apply on a parent, a diff stream): not removable. */
  private readonly busy = new Map<string, number>();
  /** Keys an awaited mountIdmapped is mounting (held busy too). */
  private readonly mounting = new Set<string>();
  /** Deletions of removed snapshots' directories still running (remove()). */
  private readonly removals = new Set<Promise<void>>();
  private readonly inflight = new Map<string, Promise<AppliedLayer>>();
  /** Root gid of each key mounted idmapped by this process, whose traversal grant unmount revokes. */
  private readonly grants = new Map<string, number>();

  private constructor(root: string, driver: SnapshotDriver, reason: string, meta: Metadata) {
    this.root = root;
    this.driver = driver;
    this.driverName = driver.name;
    this.driverReason = reason;
    this.meta = meta;
  }

  /** Opens (creating if needed) the store at opts.root and cleans up after a crash. */
  static open(opts: LayerStoreOptions): LayerStore {
    if (!isAbsolute(opts.root)) throw new InvalidArgumentError(`store root "${opts.root}" must be an absolute path`, { field: 'root' });
    const root = resolve(opts.root);
    // Owner-only (a root an older berth made 0711 is tightened): through
    // mounts/ or snapshots/ another user could reach a container's files and
    // run a setuid binary its container placed. A --userns auto root's shim
    // gets a traversal grant instead (mountIdmapped).
    for (const d of ['', '/snapshots', '/tmp', '/mounts']) {
      mkdirSync(`${root}${d}`, { recursive: true, mode: 0o700 });
      closeDir(`${root}${d}`);
    }
    // Mounts a previous run left: the roots it mounted (directly under
    // mounts/) are kept for recover() to adopt, since running containers are
    // pivoted into them and the engine hands their paths out; anything else
    // (helper mounts under tmp/, a mount inside a root) is detached first, as a
    // tmp dir or snapshot may be busy under one.
    const roots: string[] = [];
    for (const mp of mountsUnder(root)) {
      if (/^[^/]+$/.test(mp.slice(`${root}/mounts/`.length)) && mp.startsWith(`${root}/mounts/`)) roots.push(mp);
      else try { umount(mp, MNT.DETACH); } catch { /* gone meanwhile */ }
    }
    rmSync(`${root}/tmp`, { recursive: true, force: true });
    mkdirSync(`${root}/tmp`, { mode: 0o700 });
    const meta = new Metadata(`${root}/metadata.db`);
    try {
      const stored = meta.getMeta('driver') as DriverName | undefined;
      const det = stored && !opts.driver && !process.env['BERTH_SNAPSHOTTER']
        ? { driver: stored, reason: 'stored' }
        : chooseDriver(`${root}/tmp`, opts.driver);
      if (stored && stored !== det.driver) {
        throw new FailedPreconditionError(`store ${root} holds "${stored}" snapshots and cannot be opened with the "${det.driver}" driver; use another root or remove this one`, { field: 'driver' });
      }
      meta.setMeta('driver', det.driver);
      const driver: SnapshotDriver = det.driver === 'overlay' ? new OverlayDriver() : new CopyDriver();
      driver.init(root);
      const store = new LayerStore(root, driver, det.reason, meta);
      store.recover(roots);
      return store;
    } catch (e) {
      meta.close();
      throw e;
    }
  }

  /**
   * Reconciles the records with the kernel after a restart or crash. Root
   * mounts still in place whose record says so are adopted (a restart of this
   * service alone leaves running containers and their paths untouched);
   * records of mounts that are gone are dropped (the engine mounts again on
   * start), and mounts no record claims are detached.
   */
  private recover(liveRoots: string[]): void {
    const live = new Set(liveRoots);
    const kept = new Set<string>();
    for (const { key, target } of this.meta.allMounts()) {
      if (live.has(target)) kept.add(target);
      else this.meta.deleteMount(key);
    }
    for (const mp of liveRoots) {
      if (!kept.has(mp)) try { umount(mp, MNT.DETACH); } catch { /* gone meanwhile */ }
    }
    for (const name of readdirSync(`${this.root}/mounts`)) {
      if (!kept.has(`${this.root}/mounts/${name}`)) rmSync(`${this.root}/mounts/${name}`, { recursive: true, force: true });
    }
    const rows = this.meta.all();
    const ids = new Set(rows.map((r) => r.id));
    for (const name of readdirSync(`${this.root}/snapshots`)) {
      if (!ids.has(name)) rmSync(snapshotDir(this.root, name), { recursive: true, force: true });
    }
    this.driver.recover(rows.map((r) => r.id));
  }

  close(): void {
    this.meta.close();
  }

  /** Settles once the directories of removed snapshots are deleted (see remove()). */
  async removalsDone(): Promise<void> {
    await Promise.all([...this.removals]);
  }

  /** Which driver runs and why (the Info RPC). */
  info(): { driver: DriverName; reason: string; root: string } {
    return { driver: this.driverName, reason: this.driverReason, root: this.root };
  }

  // ---- layers ----------------------------------------------------------

  /**
   * Unpacks one layer blob onto the layer `parentChainId` and stores it as a
   * committed layer keyed by its chain ID. The stream is read once, never
   * buffered whole; nothing is visible until the DiffID was verified.
   * Errors: InvalidArgument (media type, digests, a bad entry, named),
   * NotFound (parent), DataLoss (DiffID mismatch, corrupt/truncated blob).
   */
  async applyLayer(input: Readable, opts: ApplyLayerOptions): Promise<AppliedLayer> {
    const compression = compressionOf(opts.mediaType);
    if (opts.expectedDiffId !== undefined && opts.expectedDiffId !== '') checkDigest(opts.expectedDiffId, 'expectedDiffId');
    const parentKey = opts.parentChainId ? opts.parentChainId : null;
    if (parentKey !== null) this.committed(parentKey, 'parentChainId');
    const expected = opts.expectedDiffId ? opts.expectedDiffId : null;
    if (expected !== null) {
      const cid = chainIdOf(parentKey, expected);
      // A second apply of a layer waits for the first, its input paused; if
      // the first fails (its stream broke), this one applies its own bytes.
      for (let running = this.inflight.get(cid); running; running = this.inflight.get(cid)) {
        const r = await running.catch(() => undefined);
        if (r) {
          input.destroy();
          return { ...r, existed: true };
        }
      }
      const existing = this.meta.find(cid);
      if (existing) {
        input.destroy();
        return { chainId: cid, diffId: expected, size: existing.size ?? 0, existed: true };
      }
      const p = this.applyNew(input, compression, parentKey, expected, opts.labels ?? {});
      this.inflight.set(cid, p);
      try { return await p; } finally { this.inflight.delete(cid); }
    }
    return this.applyNew(input, compression, parentKey, null, opts.labels ?? {});
  }

  private async applyNew(input: Readable, compression: ReturnType<typeof compressionOf>, parentKey: string | null, expected: string | null, labels: Record<string, string>): Promise<AppliedLayer> {
    const { ids } = this.meta.chain(parentKey);
    const id = this.newId();
    const staging = `${this.root}/tmp/${id}`;
    mkdirSync(staging, { mode: 0o700 });
    this.hold(parentKey);
    let published = false;
    let inserted = false;
    try {
      const target = this.driver.applyTarget(staging, ids);
      const res = await applyTar(input, compression, target);
      if (expected !== null && res.diffId !== expected) {
        throw new DataLossError(`layer content hashes to ${res.diffId} but the image says its DiffID is ${expected}; the blob is corrupt or belongs to another image, nothing was stored`, { field: 'expectedDiffId' });
      }
      const cid = chainIdOf(parentKey, res.diffId);
      const existing = this.meta.find(cid);
      if (existing) return { chainId: cid, diffId: res.diffId, size: existing.size ?? res.size, existed: true };
      if (parentKey !== null) this.committed(parentKey, 'parentChainId');
      renameSync(staging, snapshotDir(this.root, id));
      published = true;
      this.meta.insert({ key: cid, id, kind: 'committed', parent: parentKey, labels, diffId: res.diffId, size: res.size });
      inserted = true;
      this.driver.published(id);
      return { chainId: cid, diffId: res.diffId, size: res.size, existed: false };
    } catch (e) {
      if (published && !inserted) rmSync(snapshotDir(this.root, id), { recursive: true, force: true });
      throw fromNodeError(e, 'apply layer');
    } finally {
      this.release(parentKey);
      rmSync(staging, { recursive: true, force: true });
    }
  }

  // ---- snapshots -------------------------------------------------------

  /** Creates active snapshot `key` (a writable root) on `parent`; returns its mounts. */
  prepare(key: string, parent?: string | null, labels: Record<string, string> = {}): Mount[] {
    return this.create(key, 'active', parent ?? null, labels);
  }

  /** Creates view snapshot `key` (a read-only root) on `parent`; returns its mounts. */
  view(key: string, parent?: string | null, labels: Record<string, string> = {}): Mount[] {
    return this.create(key, 'view', parent ?? null, labels);
  }

  private create(key: string, kind: 'active' | 'view', parent: string | null, labels: Record<string, string>): Mount[] {
    checkKey(key);
    if (this.meta.find(key)) throw new AlreadyExistsError(`snapshot "${key}" already exists; choose another key or remove it first`, { field: 'key' });
    if (parent !== null) this.committed(parent, 'parent');
    const { ids } = this.meta.chain(parent);
    const id = this.newId();
    const staging = `${this.root}/tmp/${id}`;
    mkdirSync(staging, { mode: 0o700 });
    try {
      this.driver.prepare(staging, kind, ids);
      renameSync(staging, snapshotDir(this.root, id));
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw fromNodeError(e, `prepare snapshot ${key}`);
    }
    try {
      this.meta.insert({ key, id, kind, parent, labels, diffId: null, size: null });
    } catch (e) {
      rmSync(snapshotDir(this.root, id), { recursive: true, force: true });
      throw e;
    }
    this.driver.published(id);
    return this.driver.mounts(id, kind, ids);
  }

  /** The mounts that show snapshot `key` (what a runtime mounts as the root). */
  mounts(key: string): Mount[] {
    const row = this.meta.get(key);
    return this.driver.mounts(row.id, row.kind, this.meta.chain(row.parent).ids);
  }

  /**
   * Mounts snapshot `key` at `target` (default <root>/mounts/<id>), which must
   * be under the store root so a restart can find and undo it. Returns the target.
   */
  mount(key: string, target?: string): string {
    const row = this.meta.get(key);
    const existing = this.meta.mountOf(key);
    if (existing || this.mounting.has(key)) throw new FailedPreconditionError(`snapshot "${key}" is already mounted at ${existing ?? '(being mounted)'}; unmount it first`, { field: 'key' });
    const t = target ? resolve(target) : `${this.root}/mounts/${row.id}`;
    if (!t.startsWith(`${this.root}/`)) throw new InvalidArgumentError(`mount target ${t} must be under the store root ${this.root}`, { field: 'target' });
    mkdirSync(t, { recursive: true });
    const ms = this.driver.mounts(row.id, row.kind, this.meta.chain(row.parent).ids);
    for (const m of ms) applyMount(m, t);
    this.meta.setMount(key, t);
    return t;
  }

  /**
   * mount(key, target) with every layer seen through `map` (idmapped mounts,
   * src/idmount.ts): files stored as container id c show as the host id c
   * maps to, files the container creates are stored unshifted. Unmount undoes
   * it like any mount; nothing but the target stays mounted.
   */
  async mountIdmapped(key: string, map: IdMapping, target?: string): Promise<string> {
    validateIdMapping(map);
    const row = this.meta.get(key);
    const existing = this.meta.mountOf(key);
    if (existing || this.mounting.has(key)) throw new FailedPreconditionError(`snapshot "${key}" is already mounted at ${existing ?? '(being mounted)'}; unmount it first`, { field: 'key' });
    const t = target ? resolve(target) : `${this.root}/mounts/${row.id}`;
    if (!t.startsWith(`${this.root}/`)) throw new InvalidArgumentError(`mount target ${t} must be under the store root ${this.root}`, { field: 'target' });
    this.mounting.add(key);
    this.hold(key);
    try {
      mkdirSync(t, { recursive: true });
      const ms = this.driver.mounts(row.id, row.kind, this.meta.chain(row.parent).ids);
      await applyIdmappedMounts(ms, t, map, `${this.root}/tmp/i${row.id}${randomBytes(2).toString('hex')}`);
      this.meta.setMount(key, t);
      this.grantTraversal(key, map);
      return t;
    } finally {
      this.mounting.delete(key);
      this.release(key);
    }
  }

  /**
   * The container's shim binds `key`'s idmapped root as the container's root,
   * a host id of the range: it must be able to search the 0700 dirs above it.
   * Called at each mount, and again for a root already mounted (a start after
   * a restart of this service, or of a root an older berth mounted when these
   * dirs were 0711).
   */
  grantTraversal(key: string, map: IdMapping): void {
    const t = this.meta.mountOf(key);
    const gid = map.gidMappings.find((r) => r.containerId === 0)?.hostId;
    if (t === undefined || gid === undefined) return;
    for (const d of this.dirsAbove(t)) grantTraverse(d, gid);
    this.grants.set(key, gid);
  }

  /** The store's dirs from its root down to the parent of `t` (a path under the root). */
  private dirsAbove(t: string): string[] {
    const dirs = [this.root];
    const parts = t.slice(this.root.length + 1).split('/').slice(0, -1);
    for (const p of parts) dirs.push(`${dirs[dirs.length - 1]}/${p}`);
    return dirs;
  }

  /**
   * Revokes the traversal grant of `key`'s idmapped mount when no other root
   * mounted by this process has the same gid. Grants of roots a previous run
   * mounted are kept (this process does not know their mapping): a stale
   * grant lets only an id of berth's own --userns pool search the dir, never
   * another user, and the pool hands the lowest free range out again.
   */
  private revokeGrant(key: string, t: string): void {
    const gid = this.grants.get(key);
    if (gid === undefined) return;
    this.grants.delete(key);
    if ([...this.grants.values()].includes(gid)) return;
    for (const d of this.dirsAbove(t)) revokeTraverse(d, gid);
  }

  /** Where the store has `key` mounted, if it has. */
  mountTarget(key: string): string | undefined {
    this.meta.get(key);
    return this.meta.mountOf(key);
  }

  /** Undoes mount(key). */
  unmount(key: string): void {
    this.meta.get(key);
    const t = this.meta.mountOf(key);
    if (!t) throw new FailedPreconditionError(`snapshot "${key}" is not mounted by the store`, { field: 'key' });
    this.umountPath(t);
    this.meta.deleteMount(key);
    this.revokeGrant(key, t);
  }

  /**
   * unmount(key) with the umount on a worker thread (the service's Unmount):
   * tearing an overlay down waits in the kernel (RCU grace period, superblock
   * sync) for several ms, which would stall every service in the process.
   */
  async unmountAsync(key: string): Promise<void> {
    this.meta.get(key);
    const t = this.meta.mountOf(key);
    if (!t) throw new FailedPreconditionError(`snapshot "${key}" is not mounted by the store`, { field: 'key' });
    try {
      await umountAsync(t);
    } catch (e) {
      // Busy (a process has its cwd there): detach now, the kernel finishes later.
      if ((e as { errno?: string }).errno === 'EBUSY') await umountAsync(t, MNT.DETACH);
      else if ((e as { errno?: string }).errno !== 'EINVAL') throw e;
    }
    if (t.startsWith(`${this.root}/mounts/`)) {
      // On the threadpool: right after the unmount this rmdir waited 5-40 ms
      // in the kernel on a busy machine, on the shared event loop.
      await rmdir(t).catch(() => undefined); // not empty or gone
    }
    this.meta.deleteMount(key);
    this.revokeGrant(key, t);
  }

  private umountPath(t: string): void {
    try {
      umount(t);
    } catch (e) {
      // Busy (a process has its cwd there): detach now, the kernel finishes later.
      if ((e as { errno?: string }).errno === 'EBUSY') umount(t, MNT.DETACH);
      else if ((e as { errno?: string }).errno !== 'EINVAL') throw e;
    }
    if (t.startsWith(`${this.root}/mounts/`)) {
      try { rmdirSync(t); } catch { /* not empty or gone */ }
    }
  }

  /**
   * Turns active snapshot `key` into committed layer `name`. Without a name
   * the diff is computed and the layer is named by its chain ID (if that
   * layer already exists the active snapshot is dropped and it is returned).
   */
  async commit(key: string, name?: string, labels?: Record<string, string>): Promise<SnapshotInfo> {
    const row = this.meta.get(key);
    if (row.kind !== 'active') throw new FailedPreconditionError(`snapshot "${key}" is ${row.kind}; only active snapshots can be committed`, { field: 'key' });
    const mp = this.meta.mountOf(key);
    if (mp) throw new FailedPreconditionError(`snapshot "${key}" is mounted at ${mp}; unmount it before committing`, { field: 'key' });
    let diffId: string | null = null;
    let size: number | null = null;
    let target = name;
    if (!target) {
      const d = this.diff(key);
      d.stream.resume();
      const res = await d.done;
      diffId = res.diffId;
      size = res.size;
      target = chainIdOf(row.parent, diffId);
      const existing = this.meta.find(target);
      if (existing) {
        this.remove(key);
        return info(existing);
      }
    }
    checkKey(target);
    if (this.meta.find(target)) throw new AlreadyExistsError(`cannot commit "${key}" as "${target}": a snapshot with that key exists`, { field: 'name' });
    const final = target;
    this.meta.transaction(() => {
      this.meta.commit(key, final, diffId, size);
      if (labels) this.meta.setLabels(final, labels);
    });
    this.driver.commit(row.id);
    return info(this.meta.get(final));
  }

  /**
   * The changes of snapshot `key` (active, or a committed layer against its
   * parent) as an OCI layer tar stream. `done` resolves with the digests once
   * the stream was read to the end.
   */
  diff(key: string, opts: DiffOptions = {}): { stream: Readable; done: Promise<DiffResult> } {
    const row = this.meta.get(key);
    if (row.kind === 'view') throw new FailedPreconditionError(`snapshot "${key}" is a view and has no changes`, { field: 'key' });
    const { ids } = this.meta.chain(row.parent);
    const gzip = opts.compression === 'gzip';
    const uncompressed = createHash('sha256');
    const streamed = createHash('sha256');
    let size = 0;
    let out = 0;
    this.hold(key);
    let released = false;
    const release = () => { if (!released) { released = true; this.release(key); } };
    const source = Readable.from(tarChanges(this.driver.changes(row.id, ids)), { objectMode: false });
    const hashIn = new Transform({ transform(chunk: Buffer, _e, cb) { uncompressed.update(chunk); size += chunk.length; cb(null, chunk); } });
    const hashOut = new Transform({ transform(chunk: Buffer, _e, cb) { streamed.update(chunk); out += chunk.length; cb(null, chunk); } });
    const result = new PassThrough();
    const done = new Promise<DiffResult>((resolveDone, rejectDone) => {
      const stages = gzip ? [source, hashIn, createGzip(), hashOut, result] : [source, hashIn, hashOut, result];
      pipeline(stages as unknown as [Readable, ...Transform[]], (err) => {
        release();
        if (err) { rejectDone(fromNodeError(err, `diff snapshot ${key}`)); return; }
        const diffId = `sha256:${uncompressed.digest('hex')}`;
        resolveDone({
          diffId, digest: `sha256:${streamed.digest('hex')}`, size, compressedSize: out,
          mediaType: gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
        });
      });
    });
    done.catch(() => undefined);
    return { stream: result, done };
  }

  /** Disk use of the snapshot's own data (an active root: its changes; copy driver: its whole tree). */
  usage(key: string): Usage {
    return this.driver.usage(this.meta.get(key).id);
  }

  stat(key: string): SnapshotInfo {
    return info(this.meta.get(key));
  }

  list(): SnapshotInfo[] {
    return this.meta.all().map(info);
  }

  /**
   * Removes snapshot `key`. FailedPrecondition (naming them) while it has
   * children, is mounted by the store, or is in use by an apply or diff.
   */
  remove(key: string): void {
    const row = this.meta.get(key);
    const children = this.meta.children(key);
    if (children.length) {
      throw new FailedPreconditionError(`snapshot "${key}" has ${children.length} child snapshot(s) that depend on it: ${children.join(', ')}; remove them first`, { field: 'key' });
    }
    const mp = this.meta.mountOf(key);
    if (mp) throw new FailedPreconditionError(`snapshot "${key}" is mounted at ${mp}; unmount it first`, { field: 'key' });
    if (this.busy.has(key)) throw new FailedPreconditionError(`snapshot "${key}" is in use by a running apply or diff; retry when it finished`, { field: 'key' });
    this.meta.delete(key);
    this.driver.removed(row.id);
    // The directory leaves the store at once (a rename into tmp/) and is
    // deleted off the event loop: a recursive rmSync of a container's upper
    // dir held every service's loop ~5 ms per removed container, a copy
    // driver's whole root far longer. open() clears tmp/, so a crash before
    // the deletion ends leaves nothing behind.
    const dir = snapshotDir(this.root, row.id);
    const trash = `${this.root}/tmp/rm-${row.id}-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(dir, trash);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      // Not renamable (a mount on it): delete in place as before.
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const p = rm(trash, { recursive: true, force: true })
      .catch(() => undefined) // left in tmp/, which the next open() clears
      .finally(() => this.removals.delete(p));
    this.removals.add(p);
  }

  /**
   * Removes every snapshot that is neither listed nor an ancestor of a listed
   * one (nor in use by a running operation). Mounted ones are unmounted first.
   */
  garbageCollect(referencedChainIds: string[], referencedSnapshotKeys: string[]): GcResult {
    const rows = this.meta.all();
    const byKey = new Map(rows.map((r) => [r.key, r]));
    const keep = new Set<string>();
    const mark = (k: string | null) => {
      while (k !== null && !keep.has(k)) {
        const r = byKey.get(k);
        if (!r) return;
        keep.add(k);
        k = r.parent;
      }
    };
    for (const k of [...referencedChainIds, ...referencedSnapshotKeys, ...this.busy.keys()]) mark(k);
    const depth = (r: SnapshotRow): number => {
      let d = 0;
      for (let p = r.parent; p !== null; p = byKey.get(p)?.parent ?? null) d++;
      return d;
    };
    const doomed = rows.filter((r) => !keep.has(r.key)).sort((a, b) => depth(b) - depth(a) || a.key.localeCompare(b.key));
    const removed: string[] = [];
    for (const r of doomed) {
      const mp = this.meta.mountOf(r.key);
      if (mp) { this.umountPath(mp); this.meta.deleteMount(r.key); }
      this.remove(r.key);
      removed.push(r.key);
    }
    return { removed };
  }

  // ---- helpers ---------------------------------------------------------

  private committed(key: string, field: string): SnapshotRow {
    const r = this.meta.find(key);
    if (!r) throw new NotFoundError(`${field} "${key}" is not a layer in the store; apply that layer first`, { field });
    if (r.kind !== 'committed') throw new FailedPreconditionError(`${field} "${key}" is an ${r.kind} snapshot; only committed layers can be parents`, { field });
    return r;
  }

  private newId(): string {
    for (;;) {
      const id = randomBytes(6).toString('hex');
      if (!existsSync(snapshotDir(this.root, id)) && !existsSync(`${this.root}/tmp/${id}`)) return id;
    }
  }

  private hold(key: string | null): void {
    if (key !== null) this.busy.set(key, (this.busy.get(key) ?? 0) + 1);
  }

  private release(key: string | null): void {
    if (key === null) return;
    const n = (this.busy.get(key) ?? 1) - 1;
    if (n <= 0) this.busy.delete(key); else this.busy.set(key, n);
  }
}

function checkKey(key: string): void {
  if (!key || key.length > KEY_MAX || /[\0\n]/.test(key)) {
    throw new InvalidArgumentError(`snapshot key "${key.slice(0, 64)}" must be 1-${KEY_MAX} characters without NUL or newline`, { field: 'key' });
  }
}

function info(r: SnapshotRow): SnapshotInfo {
  return { key: r.key, kind: r.kind, parent: r.parent, labels: r.labels, diffId: r.diffId, size: r.size, createdAt: r.createdAt, updatedAt: r.updatedAt };
}
