// docker save: images as one tar stream, in either
// - 'oci': an OCI image layout (image-spec image-layout.md): oci-layout,
//   index.json (entries annotated with io.containerd.image.name and
//   org.opencontainers.image.ref.name = the tag, as docker and containerd
//   write them, so `skopeo ... oci-archive:f.tar:<tag>` and
//   `umoci unpack --image dir:<tag>` find them), blobs/sha256/<hex>; Docker
//   schema2 manifests and lists are rewritten with OCI media types (see toOci); or
// - 'docker': a docker-archive: manifest.json, repositories, <config>.json
//   and uncompressed <diffid>.tar layers (the format docker load and skopeo
//   docker-archive: read).
// A multi-platform image whose other platforms are not all present is saved
// as its platform manifest alone.
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Pack } from 'tar-stream';
import { InvalidArgumentError } from '@berth/errors';
import { decompressLayer } from '../compression.js';
import { digestHex, sha256Digest } from '../digest.js';
import { isDanglingName, type ImageRecord } from '../image-store.js';
import {
  MediaType, isIndexType, layerCompression, type Descriptor, type ImageIndex, type ImageManifest, type Platform,
} from '../media-types.js';
import { parseReference } from '../reference.js';
import type { TransferContext } from '../transfer-context.js';
import { childrenOf, resolveManifest } from '../walk.js';

export interface SaveOptions {
  format: 'oci' | 'docker';
  /** Platform saved from incomplete multi-platform images (default: the service's). */
  platform?: Platform;
}

const EPOCH = new Date(0);

export async function saveImages(ctx: TransferContext, refs: string[], opts: SaveOptions): Promise<Readable> {
  if (refs.length === 0) throw new InvalidArgumentError('save needs at least one image', { field: 'refs' });
  if (opts.format !== 'oci' && opts.format !== 'docker') throw new InvalidArgumentError(`save format ${String(opts.format)}: use oci or docker`, { field: 'format' });
  const records = new Map<string, ImageRecord>();
  for (const r of refs) {
    const rec = ctx.images.resolve(r);
    records.set(rec.name, rec);
  }
  // Resolve everything before the first byte goes out, so errors surface as errors, not truncated tars.
  const plan = opts.format === 'oci' ? await planOci(ctx, [...records.values()], opts) : await planDocker(ctx, [...records.values()], opts);
  const p = pack();
  (async () => {
    try {
      await plan(p);
      p.finalize();
    } catch (e) {
      p.destroy(e as Error);
    }
  })();
  return Readable.from(p as AsyncIterable<Buffer>);
}

type Plan = (p: Pack) => Promise<void>;

function addBuffer(p: Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    p.entry({ name, size: data.length, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 }, data, (err) => (err ? reject(err) : resolve()));
  });
}

async function addStream(p: Pack, name: string, size: number, source: Readable): Promise<void> {
  let done!: (e?: Error | null) => void;
  const finished = new Promise<void>((resolve, reject) => (done = (e) => (e ? reject(e) : resolve())));
  const sink = p.entry({ name, size, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 }, done);
  await pipeline(source, sink as unknown as NodeJS.WritableStream);
  await finished;
}

/** The descriptor to save for a record: the whole index if complete, else the platform manifest. */
async function exportRoot(ctx: TransferContext, rec: ImageRecord, platform: Platform): Promise<{ root: Descriptor; blobs: Descriptor[] }> {
  const all: Descriptor[] = [];
  let complete = true;
  const walk = async (d: Descriptor): Promise<void> => {
    if (!(await ctx.content.has(d.digest))) {
      complete = false;
      return;
    }
    all.push(d);
    const data = isIndexType(d.mediaType) || d.mediaType === MediaType.OciManifest || d.mediaType === MediaType.DockerManifest ? await ctx.content.readBytes(d.digest) : undefined;
    if (data) for (const c of childrenOf(d, data)) await walk(c);
  };
  await walk(rec.target);
  if (complete) return { root: rec.target, blobs: all };
  const r = await resolveManifest(rec.target, platform, (d) => ctx.content.readBytes(d.digest), `image ${rec.name}`);
  return { root: r.manifestDesc, blobs: [r.manifestDesc, r.configDesc, ...r.manifest.layers] };
}

/** Docker media type -> the OCI one with the same bytes. */
const TO_OCI: Record<string, string> = {
  [MediaType.DockerManifest]: MediaType.OciManifest,
  [MediaType.DockerManifestList]: MediaType.OciIndex,
  [MediaType.DockerConfig]: MediaType.OciConfig,
  [MediaType.DockerLayer]: MediaType.OciLayer,
  [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  [MediaType.DockerForeignLayerGzip]: MediaType.OciLayerNonDistributableGzip,
};

/**
 * Rewrites Docker schema2 manifests and manifest lists as OCI ones (same
 * config and layer bytes, new manifest digests). OCI layouts may hold any
 * media type, but their readers (skopeo's oci transport, umoci) only accept
 * OCI manifests and indexes, which is what `skopeo copy --format oci` does too.
 * Rewritten documents go to `docs`; other descriptors come back unchanged.
 */
async function toOci(ctx: TransferContext, d: Descriptor, docs: Map<string, Buffer>): Promise<Descriptor> {
  if (d.mediaType !== MediaType.DockerManifest && d.mediaType !== MediaType.DockerManifestList) return d;
  const src = JSON.parse((await ctx.content.readBytes(d.digest)).toString('utf8')) as ImageManifest & ImageIndex;
  let out: unknown;
  if (d.mediaType === MediaType.DockerManifest) {
    out = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { ...src.config, mediaType: TO_OCI[src.config.mediaType] ?? src.config.mediaType },
      layers: src.layers.map((l) => ({ ...l, mediaType: TO_OCI[l.mediaType] ?? l.mediaType })),
      ...(src.annotations ? { annotations: src.annotations } : {}),
    };
  } else {
    const manifests: Descriptor[] = [];
    for (const m of src.manifests) manifests.push(await toOci(ctx, m, docs));
    out = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests, ...(src.annotations ? { annotations: src.annotations } : {}) };
  }
  const buf = Buffer.from(JSON.stringify(out));
  const digest = sha256Digest(buf);
  docs.set(digest, buf);
  return { ...d, mediaType: TO_OCI[d.mediaType]!, digest, size: buf.length };
}

async function planOci(ctx: TransferContext, recs: ImageRecord[], opts: SaveOptions): Promise<Plan> {
  const docs = new Map<string, Buffer>();
  const blobs = new Map<string, Descriptor>();
  const manifests: Descriptor[] = [];
  const collect = async (d: Descriptor): Promise<void> => {
    if (blobs.has(d.digest)) return;
    blobs.set(d.digest, d);
    if (isIndexType(d.mediaType) || d.mediaType === MediaType.OciManifest || d.mediaType === MediaType.DockerManifest) {
      const data = docs.get(d.digest) ?? (await ctx.content.readBytes(d.digest));
      for (const c of childrenOf(d, data)) if (docs.has(c.digest) || (await ctx.content.has(c.digest))) await collect(c);
    }
  };
  for (const rec of recs) {
    const { root: original } = await exportRoot(ctx, rec, opts.platform ?? ctx.platform);
    const root = await toOci(ctx, original, docs);
    await collect(root);
    const annotations: Record<string, string> = { ...(root.annotations ?? {}) };
    if (!isDanglingName(rec.name)) {
      const ref = parseReference(rec.name);
      annotations['io.containerd.image.name'] = rec.name;
      if (ref.tag) annotations['org.opencontainers.image.ref.name'] = ref.tag;
    }
    manifests.push({ mediaType: root.mediaType, digest: root.digest, size: root.size, ...(root.platform ? { platform: root.platform } : {}), annotations });
  }
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
  return async (p) => {
    await addBuffer(p, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    for (const b of blobs.values()) {
      const name = `blobs/sha256/${digestHex(b.digest)}`;
      const doc = docs.get(b.digest);
      if (doc) await addBuffer(p, name, doc);
      else await addStream(p, name, (await ctx.content.info(b.digest)).size, await ctx.content.readStream(b.digest));
    }
    await addBuffer(p, 'index.json', Buffer.from(JSON.stringify(index)));
  };
}

async function planDocker(ctx: TransferContext, recs: ImageRecord[], opts: SaveOptions): Promise<Plan> {
  type Item = { config: Descriptor; layers: Array<{ desc: Descriptor; diffId: string }>; tags: string[] };
  const byConfig = new Map<string, Item>();
  for (const rec of recs) {
    const r = await resolveManifest(rec.target, opts.platform ?? ctx.platform, (d) => ctx.content.readBytes(d.digest), `image ${rec.name}`);
    const diffIds = r.config.rootfs?.diff_ids ?? [];
    let item = byConfig.get(r.configDesc.digest);
    if (!item) {
      item = { config: r.configDesc, layers: r.manifest.layers.map((d, i) => ({ desc: d, diffId: diffIds[i] ?? '' })), tags: [] };
      byConfig.set(r.configDesc.digest, item);
    }
    if (!isDanglingName(rec.name)) {
      const ref = parseReference(rec.name);
      if (ref.tag) item.tags.push(ref.familiarString());
    }
  }
  return async (p) => {
    const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    const written = new Set<string>();
    for (const item of byConfig.values()) {
      const configName = `${digestHex(item.config.digest)}.json`;
      await addBuffer(p, configName, await ctx.content.readBytes(item.config.digest));
      const layerNames: string[] = [];
      for (const { desc, diffId } of item.layers) {
        const name = `${digestHex(diffId)}.tar`;
        layerNames.push(name);
        if (written.has(name)) continue;
        written.add(name);
        if (layerCompression(desc.mediaType) === 'none') {
          await addStream(p, name, desc.size, await ctx.content.readStream(desc.digest));
        } else {
          // A tar header needs the size first: decompress to a temp file.
          const tmp = await fs.mkdtemp(join(tmpdir(), 'berth-save-'));
          try {
            const f = join(tmp, 'layer.tar');
            await pipeline(decompressLayer(await ctx.content.readStream(desc.digest), desc.mediaType), (await fs.open(f, 'w')).createWriteStream());
            const st = await fs.stat(f);
            await addStream(p, name, st.size, createReadStream(f));
          } finally {
            await fs.rm(tmp, { recursive: true, force: true });
          }
        }
      }
      manifest.push({ Config: configName, RepoTags: item.tags.length ? item.tags : null, Layers: layerNames });
      const top = item.layers.at(-1);
      for (const t of item.tags) {
        const i = t.lastIndexOf(':');
        (repositories[t.slice(0, i)] ??= {})[t.slice(i + 1)] = top ? digestHex(top.diffId) : '';
      }
    }
    await addBuffer(p, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
    await addBuffer(p, 'repositories', Buffer.from(JSON.stringify(repositories)));
  };
}

