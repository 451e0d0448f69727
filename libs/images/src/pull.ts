// Pull (after containerd's transfer service): resolve a reference on a
// registry, fetch the platform's manifest, config and layers into the content
// store, apply the layers, and only then write the image record.
//
// - Downloads run in parallel (bounded) while layers are applied in order as
//   soon as each one is committed: layer 0 unpacks while layer 5 downloads.
// - Every blob is verified (size and digest) by the content store before it
//   becomes visible; a mismatch is DataLoss and nothing of it remains.
// - Interrupted transfers resume with Range from the ingest's offset.
// - Blobs already in the store are not downloaded; layers the applier already
//   has are not applied again.
// - Everything is written under a lease. On failure the lease is discarded
//   with the blobs only it protected: no image record, no orphans.
import { PassThrough, Readable } from 'node:stream';
import { DataLossError, InvalidArgumentError, NotFoundError, UnavailableError, isDataLoss } from '@berth/errors';
import { writableAgain } from '@berth/kit';
import type { ContentWriter } from './content-store.js';
import { isSha256Digest, sha256Digest } from './digest.js';
import { ImageEvent } from './events.js';
import { discardLease } from './gc.js';
import { imageIdOf, type ImageRecord } from './image-store.js';
import { Limiter } from './limiter.js';
import { MANIFEST_ACCEPT, isIndexType, isManifestType, parseJsonDocument, type Descriptor, type ImageConfig, type Platform, parseManifest, parseIndex } from './media-types.js';
import { formatPlatform, platformMatches } from './platform.js';
import { parseDockerRef, type Reference } from './reference.js';
import type { Credentials } from './registry/auth-config.js';
import type { RegistryClient } from './registry/client.js';
import type { TransferContext } from './transfer-context.js';
import { applyLayers, type LayerProgress } from './unpack.js';
import { sniffMediaType } from './walk.js';

export type PullProgress =
  | { type: 'resolved'; reference: string; digest: string; mediaType: string }
  | { type: 'blob'; digest: string; mediaType: string; status: 'exists' | 'downloading' | 'done'; current: number; total: number }
  | LayerProgress
  | { type: 'done'; reference: string; digest: string };

export interface PullOptions {
  /** Platform to pick from an index (default: the host's). */
  platform?: Platform;
  onProgress?: (p: PullProgress) => void;
  /** Parallel blob downloads (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
  labels?: Record<string, string>;
  /** Apply the bottom layer from its download stream (default true). */
  streamFirstLayer?: boolean;
  /** This pull's own credentials for the reference's registry (instead of the stored ones); never stored. */
  credentials?: Credentials;
}

const MAX_DOCUMENT = 8 << 20;
const PROGRESS_STEP = 1 << 20;

export async function pullImage(ctx: TransferContext, reference: string, opts: PullOptions = {}): Promise<ImageRecord> {
  opts.signal?.throwIfAborted();
  const started = process.hrtime.bigint();
  const ref = parseDockerRef(reference);
  const client = opts.credentials ? ctx.hosts.withCredentials(ref.domain, opts.credentials) : ctx.hosts.get(ref.domain);
  const platform = opts.platform ?? ctx.platform;
  const progress = opts.onProgress ?? (() => undefined);
  const what = `pull ${ref.toString()}`;
  const scope = [`repository:${ref.path}:pull`];
  const lease = ctx.leases.create({ labels: { 'berth/pull': ref.toString() } });
  const aborter = new AbortController();
  const onAbort = () => aborter.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort);
  const downloads: Array<Promise<void>> = [];
  const tapOf: PassThrough[] = [];
  try {
    // 1. Resolve the reference to a top-level descriptor.
    const top = await fetchManifest(client, ref, ref.digest ?? ref.tag ?? 'latest', scope, what);
    progress({ type: 'resolved', reference: ref.toString(), digest: top.desc.digest, mediaType: top.desc.mediaType });
    await ctx.content.writeBlob(top.data, { ref: `manifest-${top.desc.digest}`, expected: { digest: top.desc.digest, size: top.desc.size }, leaseId: lease.id });

    // 2. Down to the platform's manifest.
    let manifestDesc = top.desc;
    let manifestData = top.data;
    for (let depth = 0; isIndexType(manifestDesc.mediaType); depth++) {
      if (depth > 3) throw new InvalidArgumentError(`${what}: indexes nested too deeply`, { field: 'mediaType' });
      const idx = parseIndex(manifestData, `index ${manifestDesc.digest}`);
      const pick = (idx.manifests ?? []).find((m) => (isManifestType(m.mediaType) || isIndexType(m.mediaType)) && platformMatches(platform, m.platform));
      if (!pick) {
        const offered = (idx.manifests ?? []).map((m) => (m.platform ? formatPlatform(m.platform) : '?')).join(', ');
        throw new NotFoundError(`${what}: no manifest for platform ${formatPlatform(platform)} (the index offers ${offered})`, { field: 'platform' });
      }
      const child = await fetchManifest(client, ref, pick.digest, scope, what);
      if (child.desc.size !== pick.size) throw new DataLossError(`${what}: manifest ${pick.digest} is ${child.desc.size} bytes, the index says ${pick.size}`);
      await ctx.content.writeBlob(child.data, { ref: `manifest-${pick.digest}`, expected: { digest: pick.digest, size: pick.size }, leaseId: lease.id });
      manifestDesc = { ...pick, mediaType: child.desc.mediaType || pick.mediaType };
      manifestData = child.data;
    }
    if (!isManifestType(manifestDesc.mediaType)) {
      throw new InvalidArgumentError(`${what}: ${manifestDesc.digest} is ${manifestDesc.mediaType}, not an image manifest`, { field: 'mediaType' });
    }
    const manifest = parseManifest(manifestData, `manifest ${manifestDesc.digest}`);
    for (const d of [manifest.config, ...manifest.layers]) {
      if (!isSha256Digest(d.digest)) throw new InvalidArgumentError(`${what}: blob digest ${d.digest} is not sha256, which this store requires`, { field: 'digest' });
    }

    // 3. Blobs: config first, then layers, all through one limiter.
    const limiter = new Limiter(opts.concurrency ?? 4);
    const fetchOne = (d: Descriptor, tap?: Tap) =>
      limiter.run(() => downloadBlob(ctx, client, ref, d, lease.id, scope, what, progress, aborter.signal, tap));
    // The bottom layer is applied straight from its download stream (teed
    // into the ingest), so unpacking starts with the first bytes instead of
    // after the slowest of the parallel downloads.
    const first = manifest.layers[0];
    const tap = first && opts.streamFirstLayer !== false && !(await ctx.content.has(first.digest)) ? newTap() : undefined;
    if (tap) tapOf.push(tap.stream);
    const configDone = fetchOne(manifest.config);
    downloads.push(configDone);
    const layerDone = manifest.layers.map((d, i) => fetchOne(d, i === 0 ? tap : undefined));
    downloads.push(...layerDone);
    // Never leave a rejection unobserved while we wait on something else.
    for (const p of downloads) p.catch(() => undefined);
    await configDone;
    const config = parseJsonDocument<ImageConfig>(await ctx.content.readBytes(manifest.config.digest, MAX_DOCUMENT), `config ${manifest.config.digest}`);

    // 4. Apply layers in order as they arrive.
    await applyLayers(ctx.content, ctx.applier, manifest.layers, config, (i) => layerDone[i]!, progress, (i) => (i === 0 ? tap?.live : undefined));
    await Promise.all(downloads);

    // 5. Commit: the image record, then drop the lease (the record now roots the blobs).
    const { record } = ctx.store.put({ name: ref.toString(), target: top.desc, configDigest: manifest.config.digest, labels: opts.labels ?? {} });
    ctx.leases.delete(lease.id);
    ctx.metrics?.pullDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    ctx.events.emit(ImageEvent.Pulled, { name: record.name, digest: record.target.digest, imageId: imageIdOf(record) });
    progress({ type: 'done', reference: record.name, digest: record.target.digest });
    return record;
  } catch (e) {
    aborter.abort(e);
    tapOf.forEach((t) => t.destroy());
    await Promise.allSettled(downloads);
    await discardLease(ctx.content, ctx.store, ctx.leases, lease.id).catch(() => undefined);
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The bottom layer's download stream, teed to the applier. `live` resolves
 * only once the download holds the blob's ingest (the writer lock) from byte
 * 0: to the stream, or to undefined when this pull will not stream it (the
 * blob was stored, or is being written, by another pull). The applier must
 * never read a tap whose download is still waiting for the lock: the two
 * pulls' downloads and applies would wait on each other (the layers service
 * makes a second apply of a layer wait for the first).
 */
interface Tap {
  stream: PassThrough;
  live: Promise<PassThrough | undefined>;
  decide(streamed: boolean): void;
}

function newTap(): Tap {
  const stream = new PassThrough({ highWaterMark: 4 << 20 });
  stream.on('error', () => undefined);
  let resolve!: (s: PassThrough | undefined) => void;
  const live = new Promise<PassThrough | undefined>((r) => (resolve = r));
  let decided = false;
  return {
    stream,
    live,
    decide(streamed) {
      if (decided) return;
      decided = true;
      if (!streamed) stream.destroy(new Error('blob not streamed from the start'));
      resolve(streamed && !stream.destroyed ? stream : undefined);
    },
  };
}

/** GET a manifest by tag or digest; the digest is computed from the bytes and checked. */
async function fetchManifest(client: RegistryClient, ref: Reference, tagOrDigest: string, scope: string[], what: string): Promise<{ desc: Descriptor; data: Buffer }> {
  const res = await client.request('GET', `/v2/${ref.path}/manifests/${tagOrDigest}`, {
    scope, idempotent: true, what, headers: { accept: MANIFEST_ACCEPT.join(', ') },
  });
  if (!res.ok) throw await client.responseError(res, `${what}: manifest ${tagOrDigest}`);
  const data = Buffer.from(await res.arrayBuffer());
  if (data.length > MAX_DOCUMENT) throw new InvalidArgumentError(`${what}: manifest is ${data.length} bytes, over the ${MAX_DOCUMENT} byte limit`, { field: 'manifest' });
  const digest = sha256Digest(data);
  const claimed = tagOrDigest.includes(':') ? tagOrDigest : res.headers.get('docker-content-digest');
  if (claimed && isSha256Digest(claimed) && claimed !== digest) {
    throw new DataLossError(`${what}: manifest from registry ${client.host} hashes to ${digest}, not ${claimed}`, { field: 'digest' });
  }
  const ct = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const mediaType = MANIFEST_ACCEPT.includes(ct as (typeof MANIFEST_ACCEPT)[number]) ? ct : sniffMediaType(data) ?? ct;
  return { desc: { mediaType, digest, size: data.length }, data };
}

async function downloadBlob(
  ctx: TransferContext, client: RegistryClient, ref: Reference, desc: Descriptor, leaseId: string, scope: string[], what: string,
  progress: (p: PullProgress) => void, signal: AbortSignal, tap?: Tap,
): Promise<void> {
  try {
    await downloadBlobOnce(ctx, client, ref, desc, leaseId, scope, what, progress, signal, tap);
  } finally {
    tap?.decide(false); // no-op once decided
  }
}

async function downloadBlobOnce(
  ctx: TransferContext, client: RegistryClient, ref: Reference, desc: Descriptor, leaseId: string, scope: string[], what: string,
  progress: (p: PullProgress) => void, signal: AbortSignal, tapOf?: Tap,
): Promise<void> {
  const report = (status: 'exists' | 'downloading' | 'done', current: number) =>
    progress({ type: 'blob', digest: desc.digest, mediaType: desc.mediaType, status, current, total: desc.size });
  if (await ctx.content.has(desc.digest)) {
    await ctx.content.protect(desc.digest, leaseId);
    ctx.sources.add(desc.digest, ref.domain, ref.path);
    report('exists', desc.size);
    return;
  }
  // The ref is per digest, so two pulls sharing a layer share (and resume) one ingest.
  const writer = await ctx.content.openWriter({ ref: `blob-${desc.digest}`, expected: { digest: desc.digest, size: desc.size }, leaseId, wait: true });
  // Stored meanwhile by another pull, or a partial ingest to resume: the tap
  // would miss the first bytes, so the applier reads the store instead.
  tapOf?.decide(!(await ctx.content.has(desc.digest)) && writer.offset === 0);
  const tap = tapOf?.stream.destroyed === false ? tapOf.stream : undefined;
  if (await ctx.content.has(desc.digest)) {
    await writer.close();
    await ctx.content.protect(desc.digest, leaseId);
    report('exists', desc.size);
    return;
  }
  try {
    await fetchInto(client, ref, desc, writer, scope, `${what}: blob ${desc.digest}`, signal, (n) => {
      ctx.metrics?.bytesPulled.inc(n);
    }, (cur) => report('downloading', cur), tap);
    await writer.commit();
    tap?.end();
    ctx.sources.add(desc.digest, ref.domain, ref.path);
    report('done', desc.size);
  } catch (e) {
    tap?.destroy(e as Error);
    // Keep partial data for a resume unless it is known to be wrong.
    if (isDataLoss(e)) await writer.abort();
    else await writer.close();
    throw e;
  }
}

/** Streams a blob into `writer`, resuming with Range after a broken transfer. */
async function fetchInto(
  client: RegistryClient, ref: Reference, desc: Descriptor, writer: ContentWriter, scope: string[], what: string, signal: AbortSignal,
  onBytes: (n: number) => void, onProgress: (current: number) => void, tap?: PassThrough,
): Promise<void> {
  const restart = async () => {
    await writer.truncate(0);
    // The tap already passed the discarded bytes on; the applier must start over from the store.
    tap?.destroy(new Error('download restarted'));
  };
  const attempts = 5;
  let lastReported = writer.offset;
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    if (writer.offset === desc.size) return;
    const headers: Record<string, string> = {};
    if (writer.offset > 0) headers['range'] = `bytes=${writer.offset}-`;
    const res = await client.request('GET', `/v2/${ref.path}/blobs/${desc.digest}`, { scope, idempotent: true, what, headers });
    if (res.status === 200 && writer.offset > 0) await restart(); // Range ignored: start over
    else if (res.status === 206) {
      const start = /bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (Number(start) !== writer.offset) {
        await res.body?.cancel();
        await restart();
        continue;
      }
    } else if (res.status === 416) {
      await res.body?.cancel();
      await restart();
      continue;
    } else if (!res.ok) throw await client.responseError(res, what);
    if (!res.body) throw new DataLossError(`${what}: registry ${client.host} sent no body`);
    try {
      for await (const chunk of Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>, { signal })) {
        await writer.write(chunk as Uint8Array);
        if (tap && !tap.destroyed && !tap.write(chunk)) await writableAgain(tap);
        onBytes((chunk as Uint8Array).length);
        if (writer.offset - lastReported >= PROGRESS_STEP) {
          lastReported = writer.offset;
          onProgress(writer.offset);
        }
      }
      if (writer.offset >= desc.size) return;
      // The body ended early without an error: resume like a broken connection.
      if (attempt >= attempts) throw new UnavailableError(`${what}: registry ${client.host} kept closing the transfer at ${writer.offset} of ${desc.size} bytes`);
    } catch (e) {
      if (isDataLoss(e) || signal.aborted || attempt >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}
