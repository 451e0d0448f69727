// Push (distribution-spec "Pushing"): every blob the registry lacks is
// uploaded (HEAD first), mounted from another repository of the same
// registry when we know one holds it, then manifests go up children first.
import { InvalidArgumentError } from '@berth/errors';
import type { Readable } from 'node:stream';
import { ImageEvent } from './events.js';
import { Limiter } from './limiter.js';
import { isIndexType, isManifestType, type Descriptor, type Platform, parseManifest, parseIndex } from './media-types.js';
import { platformMatches } from './platform.js';
import { parseDockerRef, type Reference } from './reference.js';
import type { RegistryClient } from './registry/client.js';
import type { TransferContext } from './transfer-context.js';

export type PushProgress =
  | { type: 'blob'; digest: string; status: 'exists' | 'mounted' | 'uploading' | 'done'; current: number; total: number }
  | { type: 'manifest'; digest: string; reference: string };

export interface PushOptions {
  onProgress?: (p: PushProgress) => void;
  /** Blobs above this many bytes are uploaded in PATCH chunks of this size (default 16 MiB). */
  chunkSize?: number;
  /** Parallel uploads (default 3). */
  concurrency?: number;
  /** For an index whose other platforms are not all here: which one to push (default: the service's). */
  platform?: Platform;
}

export async function pushImage(ctx: TransferContext, local: string, remote: string | undefined, opts: PushOptions = {}): Promise<{ reference: string; digest: string }> {
  const rec = ctx.images.resolve(local);
  const ref = parseDockerRef(remote ?? rec.name);
  const client = ctx.hosts.get(ref.domain);
  const what = `push ${ref.toString()}`;
  const progress = opts.onProgress ?? (() => undefined);
  const chunkSize = opts.chunkSize ?? 16 << 20;

  // Which manifests go up: the whole index when all of it is here, else the platform's manifest.
  let top = rec.target;
  const manifests: Descriptor[] = [];
  if (isIndexType(top.mediaType)) {
    const idx = parseIndex(await ctx.content.readBytes(top.digest), `index ${top.digest}`);
    const present = await Promise.all(idx.manifests.map((m) => ctx.content.has(m.digest)));
    if (present.every(Boolean)) manifests.push(...idx.manifests.filter((m) => isManifestType(m.mediaType)));
    else {
      const pick = idx.manifests.find((m, i) => present[i] && platformMatches(opts.platform ?? ctx.platform, m.platform));
      if (!pick) throw new InvalidArgumentError(`${what}: image ${rec.name} has no complete manifest for this platform`, { field: 'platform' });
      top = pick;
      manifests.push(pick);
    }
  } else if (isManifestType(top.mediaType)) manifests.push(top);
  else throw new InvalidArgumentError(`${what}: ${top.mediaType} is not an image`, { field: 'mediaType' });

  const blobs = new Map<string, Descriptor>();
  for (const m of manifests) {
    const man = parseManifest(await ctx.content.readBytes(m.digest), `manifest ${m.digest}`);
    for (const d of [man.config, ...man.layers]) blobs.set(d.digest, d);
  }

  const limiter = new Limiter(opts.concurrency ?? 3);
  await Promise.all([...blobs.values()].map((d) => limiter.run(() => pushBlob(ctx, client, ref, d, what, chunkSize, progress))));

  const putManifest = async (d: Descriptor, tagOrDigest: string) => {
    const data = await ctx.content.readBytes(d.digest);
    const res = await client.request('PUT', `/v2/${ref.path}/manifests/${tagOrDigest}`, {
      scope: [`repository:${ref.path}:pull,push`], idempotent: true, what, body: data, headers: { 'content-type': d.mediaType },
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await client.responseError(res, `${what}: manifest ${d.digest}`);
    await res.body?.cancel();
    progress({ type: 'manifest', digest: d.digest, reference: `${ref.name}@${d.digest}` });
  };
  // Children by digest first: a registry refuses an index whose manifests it lacks.
  for (const m of manifests) if (m.digest !== top.digest) await putManifest(m, m.digest);
  await putManifest(top, ref.digest ?? ref.tag ?? 'latest');
  ctx.events.emit(ImageEvent.Pushed, { name: ref.toString(), digest: top.digest });
  return { reference: ref.toString(), digest: top.digest };
}

async function pushBlob(
  ctx: TransferContext, client: RegistryClient, ref: Reference, d: Descriptor, what: string, chunkSize: number,
  progress: (p: PushProgress) => void,
): Promise<void> {
  const repo = ref.path;
  const scope = [`repository:${repo}:pull,push`];
  const head = await client.request('HEAD', `/v2/${repo}/blobs/${d.digest}`, { scope, idempotent: true, what });
  await head.body?.cancel();
  if (head.status === 200) {
    progress({ type: 'blob', digest: d.digest, status: 'exists', current: d.size, total: d.size });
    return;
  }
  if (head.status !== 404) throw await client.responseError(head, `${what}: blob ${d.digest}`);

  let location: string | undefined;
  for (const from of ctx.sources.repositories(d.digest, ref.domain).filter((r) => r !== repo)) {
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(from)}`, {
      scope: [...scope, `repository:${from}:pull`], idempotent: true, what,
    });
    await res.body?.cancel();
    if (res.status === 201) {
      ctx.sources.add(d.digest, ref.domain, repo);
      progress({ type: 'blob', digest: d.digest, status: 'mounted', current: d.size, total: d.size });
      return;
    }
    if (res.status === 202) {
      // The registry could not mount and opened an ordinary upload instead.
      location = res.headers.get('location') ?? undefined;
      break;
    }
  }
  if (!location) {
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/`, { scope, idempotent: true, what });
    await res.body?.cancel();
    if (res.status !== 202) throw await client.responseError(res, `${what}: start upload of ${d.digest}`);
    location = res.headers.get('location') ?? undefined;
    if (!location) throw new InvalidArgumentError(`${what}: registry ${client.host} gave no upload location`, { field: 'location' });
  }
  const abs = (loc: string) => new URL(loc, `${client.baseUrl}/`).toString();
  let url = abs(location);
  const withDigest = (u: string) => `${u}${u.includes('?') ? '&' : '?'}digest=${encodeURIComponent(d.digest)}`;
  const countBytes = (s: Readable) => {
    let n = 0;
    s.on('data', (c: Buffer) => {
      n += c.length;
      ctx.metrics?.bytesPushed.inc(c.length);
      progress({ type: 'blob', digest: d.digest, status: 'uploading', current: n, total: d.size });
    });
    return s;
  };

  if (d.size <= chunkSize) {
    // Monolithic: one PUT with the whole blob.
    const body = countBytes(await ctx.content.readStream(d.digest));
    const res = await client.request('PUT', withDigest(url), {
      scope, idempotent: false, what, body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(d.size) },
    });
    if (res.status !== 201) throw await client.responseError(res, `${what}: upload ${d.digest}`);
    await res.body?.cancel();
  } else {
    // Chunked: PATCH ranges in order, then PUT ?digest= to close the session.
    for (let off = 0; off < d.size; off += chunkSize) {
      const len = Math.min(chunkSize, d.size - off);
      const body = countBytes(await ctx.content.readStream(d.digest, { offset: off, length: len }));
      const res = await client.request('PATCH', url, {
        scope, idempotent: false, what, body,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(len), 'content-range': `${off}-${off + len - 1}` },
      });
      if (res.status !== 202) throw await client.responseError(res, `${what}: upload chunk ${off} of ${d.digest}`);
      await res.body?.cancel();
      const next = res.headers.get('location');
      if (next) url = abs(next);
    }
    const res = await client.request('PUT', withDigest(url), { scope, idempotent: false, what, body: Buffer.alloc(0), headers: { 'content-length': '0' } });
    if (res.status !== 201) throw await client.responseError(res, `${what}: finish upload of ${d.digest}`);
    await res.body?.cancel();
  }
  ctx.sources.add(d.digest, ref.domain, repo);
  progress({ type: 'blob', digest: d.digest, status: 'done', current: d.size, total: d.size });
}
