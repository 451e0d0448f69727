// The images service's local API for image records (the logic behind the
// Images RPCs; see protos/berth/images/v1/images.proto). Callable without
// gRPC: the handler (service.ts) maps each RPC onto one method here.
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, isNotFound } from '@berth/errors';
import type { ContentStore } from './content-store.js';
import { ImageEvent, type ImageEvents } from './events.js';
import { commitImage, type CommitRequest } from './image-commit.js';
import { collectGarbage, type GcOptions, type GcResult } from './gc.js';
import { danglingName, imageIdOf, isDanglingName, type ImageRecord, type ImageStore } from './image-store.js';
import type { LayerApplier } from './layer-applier.js';
import type { Lease, LeaseCreateOptions, LeaseManager } from './leases.js';
import type { Descriptor, HistoryEntry, ImageConfig, ImageManifest, Platform } from './media-types.js';
import { Reference, familiarMatch, parseDockerRef, parseReference, trimNamed } from './reference.js';
import { resolveManifest, type ResolvedImage } from './walk.js';

export interface ListFilters {
  /** Globs matched as `docker images --filter reference=` does (familiar name, with and without tag). Any may match. */
  reference?: string[];
  /** "key" or "key=value"; all must match. */
  label?: string[];
  /** true: only untagged images; false: only tagged ones. */
  dangling?: boolean;
  /** Only images created before / after the image this reference names. */
  before?: string;
  since?: string;
}

export interface ImageSummary {
  /** Normalised reference, or "<none>@sha256:..." for a dangling image. */
  name: string;
  /** Docker's short form (busybox:latest); "<none>:<none>" when dangling. */
  familiarName: string;
  target: Descriptor;
  /** Image ID: the default-platform config digest. */
  id: string | undefined;
  dangling: boolean;
  labels: Record<string, string>;
  createdAt: Date;
}

export interface LayerInfo {
  descriptor: Descriptor;
  diffId: string;
}

export interface ImageInspect extends ImageSummary {
  repoTags: string[];
  repoDigests: string[];
  platform: Platform;
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  layers: LayerInfo[];
  /** Bytes of the platform manifest, config and compressed layers (what a pull downloads). */
  size: number;
  history: HistoryEntry[];
}

export interface RemoveResult {
  /** Names removed. */
  untagged: string[];
  /** Target digests whose last name went (the image itself is gone). */
  deleted: string[];
  gc: GcResult | undefined;
}

export class ImagesService {
  constructor(
    readonly content: ContentStore,
    readonly store: ImageStore,
    readonly leases: LeaseManager,
    readonly events: ImageEvents,
    readonly platform: Platform,
    /** Where commit puts the new layer (the layers service); without one, commit is FailedPrecondition. */
    private readonly applier?: LayerApplier,
  ) {}

  /**
   * Creates a lease; an 'image' resource names an image (reference or ID) and
   * is resolved now (NotFound when absent), held by image ID with its target
   * as content, so GC keeps the blobs whatever happens to the image's names.
   */
  createLease(opts: LeaseCreateOptions): Lease {
    const resources = (opts.resources ?? []).flatMap((r) => {
      if (r.kind !== 'image') return [r];
      const rec = this.resolve(r.key);
      return [{ kind: 'image' as const, key: imageIdOf(rec) }, { kind: 'content' as const, key: rec.target.digest }];
    });
    return this.leases.create({ ...opts, resources });
  }

  /** Who holds the image of `rec` (a container's lease), oldest first: the "container" label, else the lease id. */
  holdersOf(rec: ImageRecord): string[] {
    return this.leases.holders('image', [...new Set([imageIdOf(rec), rec.target.digest])]).map((l) => l.labels['container'] ?? l.id);
  }

  /** After a name went: a held image left without any record stays, dangling, for its holders (as Docker keeps it). */
  private keepIfHeld(rec: ImageRecord): void {
    if (this.store.byImage(imageIdOf(rec)).length > 0) return;
    if (this.holdersOf(rec).length === 0) return;
    this.store.create({ ...rec, name: danglingName(imageIdOf(rec)), createdAt: rec.createdAt });
  }

  /**
   * Finds the record a user means: a reference (busybox, busybox:1, name@digest),
   * a full image ID (sha256:...), or a unique hex prefix of an ID or target digest.
   * A prefix is ambiguous only when it matches two images (two IDs): names
   * of one image, whatever manifests they point at, are one answer.
   */
  resolve(refOrId: string): ImageRecord {
    if (isDanglingName(refOrId)) return this.store.get(refOrId);
    const idLike = /^(sha256:)?[a-f0-9]{4,64}$/.test(refOrId);
    let named: Reference | undefined;
    try {
      named = parseDockerRef(refOrId);
    } catch (e) {
      if (!idLike) throw e;
    }
    if (named) {
      const rec = this.store.find(named.toString());
      if (rec) return rec;
      if (named.digest) {
        const repo = trimNamed(named).toString();
        const hit = this.store.byDigest(named.digest).find((r) => !isDanglingName(r.name) && trimNamed(parseReference(r.name)).toString() === repo);
        if (hit) return hit;
      }
    }
    if (idLike) {
      const hex = refOrId.replace(/^sha256:/, '');
      const hits = this.store.list().filter((r) => r.configDigest?.slice(7).startsWith(hex) || r.target.digest.slice(7).startsWith(hex));
      const ids = new Set(hits.map(imageIdOf));
      if (ids.size > 1) throw new InvalidArgumentError(`image ID prefix ${refOrId} is ambiguous: it matches images ${[...ids].join(', ')}`, { field: 'reference' });
      // Prefer a tagged record over a dangling one for the same image.
      const first = hits.find((h) => !isDanglingName(h.name)) ?? hits[0];
      if (first) return first;
    }
    throw new NotFoundError(`image ${refOrId} not found: pull, load or import it first`, { field: 'reference' });
  }

  get(refOrId: string): ImageRecord {
    return this.resolve(refOrId);
  }

  list(filters: ListFilters = {}): ImageSummary[] {
    let recs = this.store.list();
    if (filters.dangling !== undefined) recs = recs.filter((r) => isDanglingName(r.name) === filters.dangling);
    if (filters.reference?.length) {
      recs = recs.filter((r) => !isDanglingName(r.name) && filters.reference!.some((p) => familiarMatch(p, parseReference(r.name))));
    }
    for (const l of filters.label ?? []) {
      const eq = l.indexOf('=');
      const [k, v] = eq < 0 ? [l, undefined] : [l.slice(0, eq), l.slice(eq + 1)];
      recs = recs.filter((r) => k in r.labels && (v === undefined || r.labels[k] === v));
    }
    if (filters.before) {
      const t = this.resolve(filters.before).createdAt.getTime();
      recs = recs.filter((r) => r.createdAt.getTime() < t);
    }
    if (filters.since) {
      const t = this.resolve(filters.since).createdAt.getTime();
      recs = recs.filter((r) => r.createdAt.getTime() > t);
    }
    return recs.map((r) => this.summary(r));
  }

  /** Loads the platform manifest and config of an image from the content store. */
  async resolveContent(rec: ImageRecord, platform: Platform = this.platform): Promise<ResolvedImage> {
    try {
      return await resolveManifest(rec.target, platform, (d) => this.content.readBytes(d.digest), `image ${rec.name}`);
    } catch (e) {
      if (isNotFound(e) && (e as { field?: string }).field === 'digest') {
        throw new FailedPreconditionError(`image ${rec.name} is incomplete in the content store (${(e as Error).message}); pull it again`, { cause: e });
      }
      throw e;
    }
  }

  async inspect(refOrId: string, opts: { platform?: Platform } = {}): Promise<ImageInspect> {
    const rec = this.resolve(refOrId);
    const platform = opts.platform ?? this.platform;
    const r = await this.resolveContent(rec, platform);
    const diffIds = r.config.rootfs?.diff_ids ?? [];
    const layers = r.manifest.layers.map((d, i) => ({ descriptor: d, diffId: diffIds[i] ?? '' }));
    // Every name of the image (its ID), and each repository with the manifest its name points at.
    const same = this.store.byImage(imageIdOf(rec)).filter((x) => !isDanglingName(x.name));
    const repoTags = same.map((x) => parseReference(x.name)).filter((x) => x.tag !== undefined).map((x) => x.familiarString());
    const repoDigests = [...new Set(same.map((x) => `${parseReference(x.name).familiarName()}@${x.target.digest}`))];
    return {
      ...this.summary(rec),
      repoTags,
      repoDigests,
      platform: { os: r.config.os, architecture: r.config.architecture, ...(r.config.variant ? { variant: r.config.variant } : {}) },
      manifestDescriptor: r.manifestDesc,
      manifest: r.manifest,
      config: r.config,
      layers,
      size: r.manifestDesc.size + r.configDesc.size + r.manifest.layers.reduce((a, l) => a + l.size, 0),
      history: r.config.history ?? [],
    };
  }

  /** Gives the image `source` names a new name `target` (docker tag). Moves the name if it existed. */
  tag(source: string, target: string): ImageRecord {
    const rec = this.resolve(source);
    const ref = parseDockerRef(target);
    if (ref.digest) throw new InvalidArgumentError(`cannot tag with a digest reference (${target}): digests name content, not tags`, { field: 'reference' });
    // A new name for an existing image keeps its creation time: before/since
    // order images, not names (docker images --filter since= behaves the same).
    const { record } = this.store.put({ name: ref.toString(), target: rec.target, configDigest: rec.configDigest, labels: rec.labels, createdAt: rec.createdAt });
    this.events.emit(ImageEvent.Tagged, { name: record.name, digest: record.target.digest, source: rec.name, imageId: imageIdOf(rec) });
    return record;
  }

  /** Removes one name; the image stays while other names (or a dangling record) point at it. */
  untag(ref: string): ImageRecord {
    const name = parseDockerRef(ref).toString();
    const rec = this.store.delete(name);
    this.keepIfHeld(rec);
    this.events.emit(ImageEvent.Untagged, { name: rec.name, digest: rec.target.digest, imageId: imageIdOf(rec) });
    return rec;
  }

  /**
   * docker rmi: if other names share the image, only this name goes.
   * Removing the last name is refused while a lease holds the image (a
   * container), with Docker's conflict message; `force` untags and keeps the
   * image, dangling, for its holder (Docker does the same). Then
   * unreferenced blobs are collected unless `noPrune`.
   */
  async remove(refOrId: string, opts: { force?: boolean; noPrune?: boolean } = {}): Promise<RemoveResult> {
    const rec = this.resolve(refOrId);
    const byId = refOrId.replace(/^sha256:/, '') !== refOrId || /^[a-f0-9]{4,64}$/.test(refOrId);
    // The image's names: by name only that one goes (an untag); by ID all of them, which needs force when there are several.
    const siblings = this.store.byImage(imageIdOf(rec));
    const names = byId && opts.force ? siblings.map((s) => s.name) : [rec.name];
    if (byId && !opts.force && siblings.length > 1) {
      // moby daemon/images/image_delete.go (conflictHard): one image, several repositories.
      throw new FailedPreconditionError(
        `conflict: unable to delete ${shortId(refOrId)} (must be forced) - image is referenced in multiple repositories`,
        { field: 'reference' },
      );
    }
    const last = siblings.every((s) => names.includes(s.name));
    const holder = last ? this.holdersOf(rec)[0] : undefined;
    if (holder !== undefined && !opts.force) {
      // moby daemon/images/image_delete.go, word for word (IDs cut to 12 as stringid.TruncateID does).
      const message = byId
        ? `conflict: unable to delete ${shortId(refOrId)} (must be forced) - image is being used by container ${shortId(holder)}`
        : `conflict: unable to remove repository reference "${refOrId}" (must force) - container ${shortId(holder)} is using its referenced image ${shortId(imageIdOf(rec))}`;
      throw new FailedPreconditionError(message, { field: 'reference' });
    }
    for (const n of names) {
      this.store.delete(n);
      this.events.emit(ImageEvent.Untagged, { name: n, digest: rec.target.digest, imageId: imageIdOf(rec) });
    }
    this.keepIfHeld(rec);
    const gone = last && holder === undefined;
    if (gone) this.events.emit(ImageEvent.Deleted, { name: names[names.length - 1] ?? rec.name, digest: rec.target.digest, imageId: imageIdOf(rec) });
    const gc = gone && !opts.noPrune ? await this.gc() : undefined;
    return { untagged: names.filter((n) => !isDanglingName(n)), deleted: gone ? [imageIdOf(rec)] : [], gc };
  }

  /** Removes dangling images no lease holds (no container uses), then collects garbage. */
  async prune(): Promise<RemoveResult> {
    const untagged: string[] = [];
    const deleted: string[] = [];
    for (const rec of this.store.list().filter((r) => isDanglingName(r.name))) {
      if (this.holdersOf(rec).length > 0) continue;
      this.store.delete(rec.name);
      untagged.push(rec.name);
      deleted.push(imageIdOf(rec));
      this.events.emit(ImageEvent.Deleted, { name: rec.name, digest: rec.target.digest, imageId: imageIdOf(rec) });
    }
    return { untagged, deleted, gc: await this.gc() };
  }

  /** docker commit / a build step: the parent's layers plus one, a new config, named or dangling (image-commit.ts). */
  commit(req: CommitRequest): Promise<ImageRecord> {
    if (!this.applier) throw new FailedPreconditionError('commit needs a layer applier (the layers service) to put the new layer in place', { field: 'layer' });
    return commitImage(this, this.applier, req);
  }

  /** Removes unreachable blobs, expired leases and ingests abandoned for `ingestMaxAgeMs` (default 24 h). */
  gc(opts: GcOptions = {}): Promise<GcResult> {
    return collectGarbage(this.content, this.store, this.leases, opts);
  }

  private summary(r: ImageRecord): ImageSummary {
    const dangling = isDanglingName(r.name);
    return {
      name: r.name,
      familiarName: dangling ? '<none>:<none>' : parseReference(r.name).familiarString(),
      target: r.target,
      id: imageIdOf(r),
      dangling,
      labels: r.labels,
      createdAt: r.createdAt,
    };
  }
}

/** stringid.TruncateID: the first 12 hex digits, without the algorithm. */
const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);
