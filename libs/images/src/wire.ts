// Local API values <-> the camelCase objects @grpc/proto-loader makes from
// berth.images.v1 (keepCase false), for the gRPC handler. int64 fields may
// arrive as numbers, strings or Longs (the loader's `longs` option); sizes fit
// in 2^53. Timestamps are google.protobuf.Timestamp {seconds, nanos}.
import { InvalidArgumentError } from '@berth/errors';
import type { ContentInfo, IngestStatus } from './content-store.js';
import type { GcResult } from './gc.js';
import type { ImageInspect, ImageSummary, ListFilters, RemoveResult } from './images-service.js';
import type { CommitRequest } from './image-commit.js';
import type { Lease, LeaseCreateOptions, LeaseResourceKind } from './leases.js';
import type { Descriptor, Platform } from './media-types.js';
import type { PullProgress } from './pull.js';
import type { PushProgress } from './push.js';

type Wire = Record<string, unknown>;

const num = (v: unknown, field: string): number => {
  if (v === undefined || v === null || v === '') return 0;
  const n = Number(typeof v === 'object' ? String(v) : v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${field}: ${String(v)} is not a number`, { field });
  return n;
};

export function timestampToWire(d: Date | undefined): Wire | null {
  if (!d) return null;
  const ms = d.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

export function timestampFromWire(w: unknown): Date | undefined {
  if (!w || typeof w !== 'object') return undefined;
  const o = w as Wire;
  return new Date(num(o['seconds'], 'seconds') * 1000 + Math.floor(num(o['nanos'], 'nanos') / 1e6));
}

export function platformToWire(p: Platform | undefined): Wire | null {
  if (!p) return null;
  return { os: p.os, architecture: p.architecture, variant: p.variant ?? '', osVersion: p['os.version'] ?? '', osFeatures: p['os.features'] ?? [] };
}

/** An unset or empty Platform message means "the default platform". */
export function platformFromWire(w: unknown): Platform | undefined {
  if (!w || typeof w !== 'object') return undefined;
  const o = w as Wire;
  if (!o['os'] && !o['architecture']) return undefined;
  if (!o['os'] || !o['architecture']) throw new InvalidArgumentError('platform needs both os and architecture', { field: 'platform' });
  const p: Platform = { os: String(o['os']), architecture: String(o['architecture']) };
  if (o['variant']) p.variant = String(o['variant']);
  if (o['osVersion']) p['os.version'] = String(o['osVersion']);
  const f = o['osFeatures'];
  if (Array.isArray(f) && f.length) p['os.features'] = f.map(String);
  return p;
}

export function descriptorToWire(d: Descriptor): Wire {
  return {
    mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: d.annotations ?? {},
    platform: platformToWire(d.platform), urls: d.urls ?? [], artifactType: d.artifactType ?? '',
  };
}

export function descriptorFromWire(w: unknown): Descriptor {
  const o = (w ?? {}) as Wire;
  const d: Descriptor = { mediaType: String(o['mediaType'] ?? ''), digest: String(o['digest'] ?? ''), size: num(o['size'], 'size') };
  const ann = o['annotations'] as Record<string, string> | undefined;
  if (ann && Object.keys(ann).length) d.annotations = { ...ann };
  const p = platformFromWire(o['platform']);
  if (p) d.platform = p;
  const urls = o['urls'];
  if (Array.isArray(urls) && urls.length) d.urls = urls.map(String);
  if (o['artifactType']) d.artifactType = String(o['artifactType']);
  return d;
}

export function imageToWire(s: ImageSummary): Wire {
  return {
    name: s.name, familiarName: s.familiarName, target: descriptorToWire(s.target), id: s.id ?? '', dangling: s.dangling,
    labels: s.labels, createdAt: timestampToWire(s.createdAt),
  };
}

export function listFiltersFromWire(w: unknown): ListFilters {
  const o = (w ?? {}) as Wire;
  const f: ListFilters = {};
  const ref = o['reference'];
  if (Array.isArray(ref) && ref.length) f.reference = ref.map(String);
  const label = o['label'];
  if (Array.isArray(label) && label.length) f.label = label.map(String);
  // proto3 `optional bool`: proto-loader leaves it undefined (or sets _dangling) when unset.
  if (typeof o['dangling'] === 'boolean' && (o['_dangling'] === undefined || o['_dangling'] === 'dangling')) f.dangling = o['dangling'];
  if (o['before']) f.before = String(o['before']);
  if (o['since']) f.since = String(o['since']);
  return f;
}

export function inspectToWire(i: ImageInspect): Wire {
  return {
    image: imageToWire(i),
    repoTags: i.repoTags,
    repoDigests: i.repoDigests,
    platform: platformToWire(i.platform),
    manifestDescriptor: descriptorToWire(i.manifestDescriptor),
    manifestJson: Buffer.from(JSON.stringify(i.manifest)),
    configJson: Buffer.from(JSON.stringify(i.config)),
    layers: i.layers.map((l) => ({ descriptor: descriptorToWire(l.descriptor), diffId: l.diffId })),
    size: i.size,
    history: i.history.map((h) => ({
      created: h.created ?? '', createdBy: h.created_by ?? '', author: h.author ?? '', comment: h.comment ?? '', emptyLayer: h.empty_layer ?? false,
    })),
  };
}

export function gcToWire(g: GcResult): Wire {
  return { removed: g.removed, freedBytes: g.freedBytes, ingestsRemoved: g.ingestsRemoved, expiredLeases: g.expiredLeases };
}

export function removeToWire(r: RemoveResult): Wire {
  return { untagged: r.untagged, deleted: r.deleted, gc: r.gc ? gcToWire(r.gc) : null };
}

export function contentInfoToWire(c: ContentInfo): Wire {
  return { digest: c.digest, size: c.size, committedAt: timestampToWire(c.committedAt) };
}

export function ingestStatusToWire(s: IngestStatus): Wire {
  return {
    ref: s.ref, offset: s.offset, expectedDigest: s.expected?.digest ?? '', expectedSize: s.expected?.size ?? 0,
    startedAt: timestampToWire(s.startedAt), updatedAt: timestampToWire(s.updatedAt),
  };
}

/** CreateLeaseRequest: expires_in_seconds 0 = the default (24 h), negative = never. */
export function leaseCreateFromWire(w: Wire): LeaseCreateOptions {
  const secs = num(w['expiresInSeconds'], 'expires_in_seconds');
  const resources = ((w['resources'] ?? []) as Wire[]).map((r) => {
    const kind = String(r['kind'] ?? '');
    if (kind !== 'image' && kind !== 'content') throw new InvalidArgumentError(`lease resource kind "${kind}": use image or content`, { field: 'resources.kind' });
    return { kind: kind as LeaseResourceKind, key: String(r['key'] ?? '') };
  });
  return {
    ...(w['id'] ? { id: String(w['id']) } : {}),
    ...(secs < 0 ? { expiresInMs: null } : secs > 0 ? { expiresInMs: secs * 1000 } : {}),
    labels: { ...((w['labels'] ?? {}) as Record<string, string>) },
    resources,
  };
}

/** CommitImageRequest: config_json must be a JSON object (image-spec config.md's "config"). */
export function commitFromWire(w: Wire): CommitRequest {
  let config: unknown;
  const raw = Buffer.from((w['configJson'] ?? Buffer.alloc(0)) as Uint8Array).toString('utf8');
  try {
    config = raw === '' ? {} : JSON.parse(raw);
  } catch (e) {
    throw new InvalidArgumentError(`commit config_json is not JSON: ${(e as Error).message}`, { field: 'config_json', cause: e });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new InvalidArgumentError('commit config_json must be a JSON object (the image config\'s "config")', { field: 'config_json' });
  const layer = w['layer'] as Wire | null | undefined;
  return {
    ...(w['parent'] ? { parent: String(w['parent']) } : {}),
    ...(layer ? { layer: { descriptor: descriptorFromWire(layer['descriptor']), diffId: String(layer['diffId'] ?? '') } } : {}),
    config: config as CommitRequest['config'],
    ...(w['author'] ? { author: String(w['author']) } : {}),
    ...(w['comment'] ? { comment: String(w['comment']) } : {}),
    ...(w['createdBy'] ? { createdBy: String(w['createdBy']) } : {}),
    ...(w['reference'] ? { reference: String(w['reference']) } : {}),
  };
}

export function leaseToWire(l: Lease): Wire {
  return { id: l.id, createdAt: timestampToWire(l.createdAt), expiresAt: timestampToWire(l.expiresAt), labels: l.labels };
}

/** One PullResponse per progress item (the final `image` message is imageToWire of the result). */
export function pullProgressToWire(p: PullProgress): Wire | undefined {
  switch (p.type) {
    case 'resolved':
      return { resolved: { mediaType: p.mediaType, digest: p.digest, size: 0 } };
    case 'blob':
      return { blob: { digest: p.digest, mediaType: p.mediaType, status: p.status, current: p.current, total: p.total } };
    case 'layer':
      return { layer: { digest: p.digest, diffId: p.diffId, chainId: p.chainId, status: p.status } };
    case 'done':
      return undefined;
  }
}

export function pushProgressToWire(p: PushProgress): Wire {
  if (p.type === 'blob') return { blob: { digest: p.digest, mediaType: '', status: p.status, current: p.current, total: p.total } };
  return { manifest: p.reference };
}
