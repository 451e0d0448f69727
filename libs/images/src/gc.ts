// Garbage collection of the content store (after containerd's gc, reduced to
// what the images service holds): mark everything reachable from image
// records and live leases, then sweep the blobs that are not marked.
//
// Racing an ingest: a pull adds each blob to its lease inside
// ContentStore.commitLock, in the same critical section as the rename that
// makes the blob visible, and the sweep holds the same lock from reading the
// roots to the last unlink. So a blob is either committed before the sweep
// started (and its lease resource is among the roots) or after it ended.
// Ingests in progress are never touched: they are not blobs yet, and their
// directories are only removed when no writer holds them, no live lease names
// them, and they have not been written to for `ingestMaxAgeMs`.
import { isNotFound } from '@berth/errors';
import type { ContentStore } from './content-store.js';
import type { ImageStore } from './image-store.js';
import type { LeaseManager } from './leases.js';
import { isIndexType, isManifestType, type Descriptor } from './media-types.js';
import { childrenOf, sniffMediaType } from './walk.js';

export interface GcResult {
  /** Digests of blobs removed. */
  removed: string[];
  /** Bytes freed. */
  freedBytes: number;
  /** Refs of abandoned ingests removed. */
  ingestsRemoved: string[];
  /** Leases that had expired and were deleted. */
  expiredLeases: number;
}

export interface GcOptions {
  /** Abandoned ingests older than this are removed (default 24 h). */
  ingestMaxAgeMs?: number;
}

/**
 * Digests reachable from image records and live leases (optionally leaving
 * one lease out). Call with ContentStore.commitLock held.
 */
export async function markReachable(content: ContentStore, images: ImageStore, leases: LeaseManager, excludeLease?: string): Promise<Set<string>> {
  const marked = new Set<string>();
  const leased = leases.liveResources(Date.now(), excludeLease);
  const queue: Descriptor[] = [...images.targets()];
  for (const r of leased) {
    if (r.kind === 'content') queue.push({ mediaType: '', digest: r.key, size: -1 });
  }
  while (queue.length > 0) {
    const d = queue.pop()!;
    if (marked.has(d.digest)) continue;
    marked.add(d.digest);
    let mediaType = d.mediaType;
    const documentLike = isIndexType(mediaType) || isManifestType(mediaType) || mediaType === '';
    if (!documentLike) continue;
    let data: Buffer;
    try {
      const info = await content.info(d.digest);
      if (mediaType === '' && info.size > 4 << 20) continue; // a leased layer, not a document
      data = await content.readBytes(d.digest);
    } catch (e) {
      if (isNotFound(e)) continue; // not every platform of an index is present
      throw e;
    }
    if (mediaType === '') mediaType = sniffMediaType(data) ?? '';
    if (!isIndexType(mediaType) && !isManifestType(mediaType)) continue;
    for (const c of childrenOf({ ...d, mediaType }, data)) queue.push(c);
  }
  return marked;
}

export async function collectGarbage(content: ContentStore, images: ImageStore, leases: LeaseManager, opts: GcOptions = {}): Promise<GcResult> {
  const ingestMaxAgeMs = opts.ingestMaxAgeMs ?? 24 * 3600_000;
  return content.commitLock.run(async () => {
    const expiredLeases = leases.deleteExpired();
    const leased = leases.liveResources();
    const marked = await markReachable(content, images, leases);

    const removed: string[] = [];
    let freedBytes = 0;
    for (const info of await content.list()) {
      if (marked.has(info.digest)) continue;
      try {
        await content.delete(info.digest);
        removed.push(info.digest);
        freedBytes += info.size;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }

    const leasedIngests = new Set(leased.filter((r) => r.kind === 'ingest').map((r) => r.key));
    const ingestsRemoved: string[] = [];
    const now = Date.now();
    for (const st of await content.listStatuses()) {
      if (content.isWriting(st.ref) || leasedIngests.has(st.ref)) continue;
      if (now - st.updatedAt.getTime() < ingestMaxAgeMs) continue;
      await content.abort(st.ref).catch(() => undefined);
      ingestsRemoved.push(st.ref);
    }
    return { removed, freedBytes, ingestsRemoved, expiredLeases };
  });
}

/**
 * Ends a lease whose operation failed: deletes the lease, then the blobs it
 * protected that nothing else reaches, so a failed pull leaves nothing behind.
 */
export async function discardLease(content: ContentStore, images: ImageStore, leases: LeaseManager, leaseId: string): Promise<string[]> {
  return content.commitLock.run(async () => {
    const mine = leases.resources(leaseId);
    const marked = await markReachable(content, images, leases, leaseId);
    leases.delete(leaseId);
    const removed: string[] = [];
    for (const r of mine) {
      if (r.kind === 'content' && !marked.has(r.key)) {
        try {
          await content.delete(r.key);
          removed.push(r.key);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      if (r.kind === 'ingest' && !content.isWriting(r.key)) await content.abort(r.key).catch(() => undefined);
    }
    return removed;
  });
}
