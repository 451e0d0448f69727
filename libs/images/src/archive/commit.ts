// The last step shared by import, load, busybox creation and commit: write the
// documents, apply the layers, name the image, release the lease.
import { ImageEvent, type ImageEvent as ImageEventName } from '../events.js';
import { discardLease } from '../gc.js';
import { danglingName, type ImageRecord } from '../image-store.js';
import type { Descriptor } from '../media-types.js';
import type { TransferContext } from '../transfer-context.js';

/** Runs `fn` under a fresh lease; afterwards the lease and what only it protected are discarded. */
export async function withLease<T>(ctx: Pick<TransferContext, 'content' | 'store' | 'leases'>, label: string, fn: (leaseId: string) => Promise<T>): Promise<T> {
  const lease = ctx.leases.create({ labels: { 'berth/op': label } });
  try {
    const out = await fn(lease.id);
    // The new records now root what they need; whatever else the operation
    // stored (an archive's manifest.json, repositories...) goes now, not at the next GC.
    await discardLease(ctx.content, ctx.store, ctx.leases, lease.id);
    return out;
  } catch (e) {
    await discardLease(ctx.content, ctx.store, ctx.leases, lease.id).catch(() => undefined);
    throw e;
  }
}

/** Writes a JSON document as a blob under the lease and returns its descriptor. */
export async function writeJson(ctx: Pick<TransferContext, 'content'>, leaseId: string, mediaType: string, doc: unknown): Promise<Descriptor> {
  const data = Buffer.from(JSON.stringify(doc));
  const { digest, size } = await ctx.content.writeBlob(data, { ref: `doc-${mediaType}-${Date.now()}-${Math.random()}`, leaseId });
  return { mediaType, digest, size };
}

/** Names an image (or records it dangling when `name` is undefined) and emits `event`. */
export function nameImage(
  ctx: Pick<TransferContext, 'store' | 'events'>, name: string | undefined, target: Descriptor, configDigest: string, event: ImageEventName, labels: Record<string, string> = {},
): ImageRecord {
  // An untagged copy of an image that already has a name adds nothing: put returns that record (ImageStore.put).
  const { record } = ctx.store.put({ name: name ?? danglingName(configDigest), target, configDigest, labels });
  ctx.events.emit(event, { name: record.name, digest: target.digest, imageId: configDigest });
  return record;
}

export { ImageEvent };
