// docker load: reads a docker-archive (docker save / skopeo docker-archive:
// manifest.json, <config>.json, layer tars) or an OCI image layout in a tar
// (skopeo oci-archive:, docker save since v25: oci-layout, index.json,
// blobs/sha256/...), in one streaming pass.
//
// Every regular file goes straight into the content store under one lease
// (files named blobs/sha256/<hex> are verified against their name as they
// land); small files are also kept in memory to be parsed. When the archive
// ends, its index.json (preferred) or manifest.json says which images it
// holds; their layers are applied and the names recorded.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { DataLossError, InvalidArgumentError } from '@berth/errors';
import type { ImageRecord } from '../image-store.js';
import { MediaType, parseJsonDocument, type Descriptor, type ImageConfig, type ImageManifest, type Platform, parseIndex } from '../media-types.js';
import { parseDockerRef, withTag, parseNormalizedNamed } from '../reference.js';
import type { TransferContext } from '../transfer-context.js';
import { applyLayers } from '../unpack.js';
import { resolveManifest } from '../walk.js';
import { ImageEvent, nameImage, withLease, writeJson } from './commit.js';

export interface LoadOptions {
  /** Platform to apply from multi-platform images (default: the service's). */
  platform?: Platform;
  /**
   * Repository for OCI index entries whose org.opencontainers.image.ref.name
   * is a bare tag ("latest"); without it such a name is read as an image name.
   */
  baseName?: string;
  labels?: Record<string, string>;
}

const KEEP_IN_MEMORY = 1 << 20;

interface ArchiveFile {
  digest: string;
  size: number;
  data: Buffer | undefined;
}

export async function loadArchive(ctx: TransferContext, archive: Readable, opts: LoadOptions = {}): Promise<ImageRecord[]> {
  return withLease(ctx, 'load', async (leaseId) => {
    const files = new Map<string, ArchiveFile>();
    const links = new Map<string, string>();
    const ex = extract();
    archive.on('error', (e) => ex.destroy(e));
    archive.pipe(ex as unknown as NodeJS.WritableStream);
    for await (const entry of ex) {
      const h = entry.header;
      const name = clean(h.name);
      if (h.type === 'symlink' || h.type === 'link') {
        links.set(name, h.type === 'symlink' ? clean(posix.join(posix.dirname(name), h.linkname)) : clean(h.linkname));
        entry.resume();
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
      const expected = m ? { digest: `sha256:${m[1]}`, size: h.size } : { size: h.size };
      const ref = m ? `load-blob-sha256:${m[1]}` : `load-${randomBytes(8).toString('hex')}`;
      if (h.size <= KEEP_IN_MEMORY) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        const data = Buffer.concat(chunks);
        const w = await ctx.content.writeBlob(data, { ref, expected, leaseId });
        files.set(name, { ...w, data });
      } else {
        const writer = await ctx.content.openWriter({ ref, expected, leaseId, wait: true });
        try {
          if (writer.offset > 0) await writer.truncate(0);
          for await (const c of entry) await writer.write(c as Buffer);
          files.set(name, { ...(await writer.commit()), data: undefined });
        } catch (e) {
          await writer.abort();
          throw e;
        }
      }
    }
    const file = (p: string, what: string): ArchiveFile => {
      let n = clean(p);
      for (let hops = 0; links.has(n) && hops < 16; hops++) n = links.get(n)!;
      const f = files.get(n);
      if (!f) throw new InvalidArgumentError(`archive names ${what} ${p}, but holds no such file`, { field: p });
      return f;
    };

    if (files.has('index.json')) return loadOciLayout(ctx, file, opts);
    if (files.has('manifest.json')) return loadDockerArchive(ctx, leaseId, file, opts);
    throw new InvalidArgumentError('archive is neither an OCI image layout (no index.json) nor a docker-archive (no manifest.json)', { field: 'archive' });
  });
}

function clean(p: string): string {
  return posix.normalize(p).replace(/^(\.\/)+/, '').replace(/^\/+/, '').replace(/\/$/, '');
}

async function loadOciLayout(ctx: TransferContext, file: (p: string, what: string) => ArchiveFile, opts: LoadOptions): Promise<ImageRecord[]> {
  const idx = parseIndex(file('index.json', 'index').data!, 'index.json');
  const platform = opts.platform ?? ctx.platform;
  const out: ImageRecord[] = [];
  for (const desc of idx.manifests ?? []) {
    const have = await ctx.content.info(desc.digest).catch(() => undefined);
    if (!have) throw new InvalidArgumentError(`index.json lists ${desc.digest}, which the archive does not contain`, { field: 'index.json' });
    if (have.size !== desc.size) throw new DataLossError(`index.json says ${desc.digest} is ${desc.size} bytes, the archive holds ${have.size}`);
    const resolved = await resolveManifest(desc, platform, (d) => ctx.content.readBytes(d.digest), `archive entry ${desc.digest}`);
    for (const l of [resolved.configDesc, ...resolved.manifest.layers]) {
      const info = await ctx.content.info(l.digest).catch(() => undefined);
      if (!info) throw new InvalidArgumentError(`manifest ${resolved.manifestDesc.digest} needs blob ${l.digest}, which the archive does not contain`, { field: l.digest });
      if (info.size !== l.size) throw new DataLossError(`blob ${l.digest} is ${info.size} bytes in the archive, the manifest says ${l.size}`);
    }
    await applyLayers(ctx.content, ctx.applier, resolved.manifest.layers, resolved.config, async () => undefined);
    const name = ociEntryName(desc, opts.baseName);
    // An index whose other platforms are missing stays an index: inspect and run pick the platform.
    out.push(nameImage(ctx, name, desc, resolved.configDesc.digest, ImageEvent.Loaded, opts.labels));
  }
  return out;
}

/** The image name an OCI index entry carries, normalised; undefined for none. */
export function ociEntryName(desc: Descriptor, baseName?: string): string | undefined {
  const full = desc.annotations?.['io.containerd.image.name'];
  if (full) return parseDockerRef(full).toString();
  const refName = desc.annotations?.['org.opencontainers.image.ref.name'];
  if (!refName) return undefined;
  if (baseName && !refName.includes('/') && !refName.includes(':')) return withTag(parseNormalizedNamed(baseName), refName).toString();
  return parseDockerRef(refName).toString();
}

interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function loadDockerArchive(
  ctx: TransferContext, leaseId: string, file: (p: string, what: string) => ArchiveFile, opts: LoadOptions,
): Promise<ImageRecord[]> {
  const entries = parseJsonDocument<DockerArchiveEntry[]>(file('manifest.json', 'manifest').data!, 'manifest.json');
  if (!Array.isArray(entries)) throw new InvalidArgumentError('manifest.json of a docker-archive must be a list', { field: 'manifest.json' });
  const out: ImageRecord[] = [];
  for (const e of entries) {
    const cfgFile = file(e.Config, 'config');
    const config = parseJsonDocument<ImageConfig>(cfgFile.data ?? (await ctx.content.readBytes(cfgFile.digest)), e.Config);
    const layers: Descriptor[] = [];
    for (const l of e.Layers) {
      const f = file(l, 'layer');
      layers.push({ mediaType: await sniffLayerType(ctx, f.digest), digest: f.digest, size: f.size });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: MediaType.DockerConfig, digest: cfgFile.digest, size: cfgFile.size },
      layers,
    };
    const target = await writeJson(ctx, leaseId, MediaType.DockerManifest, manifest);
    await applyLayers(ctx.content, ctx.applier, layers, config, async () => undefined);
    const tags = (e.RepoTags ?? []).map((t) => parseDockerRef(t).toString());
    if (tags.length === 0) out.push(nameImage(ctx, undefined, target, cfgFile.digest, ImageEvent.Loaded, opts.labels));
    for (const t of tags) out.push(nameImage(ctx, t, target, cfgFile.digest, ImageEvent.Loaded, opts.labels));
  }
  return out;
}

/** docker-archive layers are usually plain tars, but docker accepts compressed ones. */
async function sniffLayerType(ctx: TransferContext, digest: string): Promise<string> {
  const s = await ctx.content.readStream(digest, { length: 4 });
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  const b = Buffer.concat(chunks);
  if (b[0] === 0x1f && b[1] === 0x8b) return MediaType.DockerLayerGzip;
  if (b.length === 4 && b.readUInt32LE(0) === 0xfd2fb528) return MediaType.OciLayerZstd;
  return MediaType.DockerLayer;
}
