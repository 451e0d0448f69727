// docker save: images as one tar stream, in either
// - 'oci': an OCI image layout (image-spec image-layout.md): oci-layout,
//   index.json (entries annotated with io.containerd.image.name and
//   org.opencontainers.image.ref.name = the tag, as docker and containerd
//   write them, so `skopeo ... oci-archive:f.tar:<tag>` and
//   `umoci unpack --image dir:<tag>` find them), blobs/sha256/<hex>; Docker
//   schema2 manifests and lists are rewritten with OCI media types (see toOci); or
// - 'docker': a docker-archive that is also an OCI image layout, as Docker
//   25+ writes it (see planDocker): manifest.json, repositories, index.json,
//   oci-layout and blobs/sha256/ holding the config, an OCI manifest and the
//   uncompressed layers named by DiffID (docker/podman load, skopeo
//   docker-archive: and oci-archive:, umoci all read it).
// A multi-platform image whose other platforms are not all present is saved
// as its platform manifest alone.
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Pack } from 'tar-stream';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { DataLossError, FailedPreconditionError, InvalidArgumentError } from '@berth/errors';
import { decompressLayer } from '../compression.js';
import { digestHex, sha256Digest } from '../digest.js';
import { imageIdOf, isDanglingName, type ImageRecord } from '../image-store.js';
import { ImageEvent } from '../events.js';
import {
  MediaType, isIndexType, layerCompression, type Descriptor, type ImageIndex, type ImageManifest, type Platform,
} from '../media-types.js';
import { parseReference, type Reference } from '../reference.js';
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
      for (const rec of records.values()) ctx.events.emit(ImageEvent.Saved, { name: rec.name, digest: rec.target.digest, imageId: imageIdOf(rec) });
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

/**
 * A docker-archive that is also an OCI image layout, as Docker 25+ writes it
 * (moby image/tarexport/save.go): every file is a blob under blobs/sha256/
 * (the config, each layer uncompressed and named by its DiffID, and an OCI
 * manifest per image), index.json names each tag's manifest
 * (io.containerd.image.name = the full reference,
 * org.opencontainers.image.ref.name = the tag) beside oci-layout, and
 * manifest.json's Config and Layers point into blobs/sha256/. So `docker
 * load`, `podman load` and skopeo's docker-archive: read manifest.json, and
 * skopeo's oci-archive: and umoci read the layout; berth load prefers
 * index.json. Layers are written first: a manifest needs their sizes.
 */
async function planDocker(ctx: TransferContext, recs: ImageRecord[], opts: SaveOptions): Promise<Plan> {
  type Item = { config: Descriptor; platform: Platform; layers: Array<{ desc: Descriptor; diffId: string }>; refs: Reference[] };
  const byConfig = new Map<string, Item>();
  for (const rec of recs) {
    const r = await resolveManifest(rec.target, opts.platform ?? ctx.platform, (d) => ctx.content.readBytes(d.digest), `image ${rec.name}`);
    const diffIds = r.config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== r.manifest.layers.length) {
      throw new FailedPreconditionError(`image ${rec.name}: its config lists ${diffIds.length} layer DiffIDs for ${r.manifest.layers.length} layers; it cannot be saved`, { field: 'refs' });
    }
    let item = byConfig.get(r.configDesc.digest);
    if (!item) {
      const platform: Platform = { os: r.config.os, architecture: r.config.architecture, ...(r.config.variant ? { variant: r.config.variant } : {}) };
      item = { config: r.configDesc, platform, layers: r.manifest.layers.map((d, i) => ({ desc: d, diffId: diffIds[i]! })), refs: [] };
      byConfig.set(r.configDesc.digest, item);
    }
    if (!isDanglingName(rec.name)) {
      const ref = parseReference(rec.name);
      if (ref.tag && !item.refs.some((x) => x.toString() === ref.toString())) item.refs.push(ref);
    }
  }
  return async (p) => {
    const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    const index: Descriptor[] = [];
    const layerSizes = new Map<string, number>(); // DiffID -> bytes of the uncompressed blob written
    const blobName = (digest: string) => `blobs/sha256/${digestHex(digest)}`;
    for (const item of byConfig.values()) {
      for (const { desc, diffId } of item.layers) {
        if (layerSizes.has(diffId)) continue;
        layerSizes.set(diffId, await addLayerBlob(ctx, p, blobName(diffId), desc, diffId));
      }
      const configBytes = await ctx.content.readBytes(item.config.digest);
      await addBuffer(p, blobName(item.config.digest), configBytes);
      const oci: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: item.config.digest, size: configBytes.length },
        layers: item.layers.map((l) => ({ mediaType: MediaType.OciLayer, digest: l.diffId, size: layerSizes.get(l.diffId)! })),
      };
      const ociBytes = Buffer.from(JSON.stringify(oci));
      const ociDesc: Descriptor = { mediaType: MediaType.OciManifest, digest: sha256Digest(ociBytes), size: ociBytes.length, platform: item.platform };
      await addBuffer(p, blobName(ociDesc.digest), ociBytes);
      // An untagged image is in the layout too, without a name.
      if (item.refs.length === 0) index.push(ociDesc);
      for (const ref of item.refs) {
        index.push({ ...ociDesc, annotations: { 'io.containerd.image.name': ref.toString(), 'org.opencontainers.image.ref.name': ref.tag! } });
      }
      const tags = item.refs.map((r) => r.familiarString());
      manifest.push({ Config: blobName(item.config.digest), RepoTags: tags.length ? tags : null, Layers: item.layers.map((l) => blobName(l.diffId)) });
      const top = item.layers.at(-1);
      for (const t of tags) {
        const i = t.lastIndexOf(':');
        (repositories[t.slice(0, i)] ??= {})[t.slice(i + 1)] = top ? digestHex(top.diffId) : '';
      }
    }
    await addBuffer(p, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
    if (Object.keys(repositories).length) await addBuffer(p, 'repositories', Buffer.from(JSON.stringify(repositories)));
    await addBuffer(p, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    const idx: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: index };
    await addBuffer(p, 'index.json', Buffer.from(JSON.stringify(idx)));
  };
}

/**
 * Writes a layer uncompressed as the blob `name` (named by its DiffID) and
 * returns its size. A compressed layer is inflated to a temp file first (a
 * tar header needs the size), hashed on the way: its digest must be the
 * DiffID the config promises, or the archive would not verify.
 */
async function addLayerBlob(ctx: TransferContext, p: Pack, name: string, desc: Descriptor, diffId: string): Promise<number> {
  if (layerCompression(desc.mediaType) === 'none') {
    if (desc.digest !== diffId) throw new DataLossError(`layer ${desc.digest} is uncompressed but its DiffID is ${diffId}`, { field: 'digest' });
    await addStream(p, name, desc.size, await ctx.content.readStream(desc.digest));
    return desc.size;
  }
  const tmp = await fs.mkdtemp(join(tmpdir(), 'berth-save-'));
  try {
    const f = join(tmp, 'layer.tar');
    const hash = createHash('sha256');
    const tap = new Transform({ transform(chunk: Buffer, _enc, cb) { hash.update(chunk); cb(null, chunk); } });
    await pipeline(decompressLayer(await ctx.content.readStream(desc.digest), desc.mediaType), tap, (await fs.open(f, 'w', 0o600)).createWriteStream());
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== diffId) throw new DataLossError(`layer ${desc.digest} inflates to ${got}, not its DiffID ${diffId}`, { field: 'digest' });
    const st = await fs.stat(f);
    await addStream(p, name, st.size, createReadStream(f));
    return st.size;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
