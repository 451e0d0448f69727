// docker import: a root filesystem tar becomes a one-layer image.
//
// The layer is stored gzip-compressed (application/vnd.oci.image.layer.v1.tar+gzip):
// imported images are usually pushed afterwards, and registries and peers
// expect compressed layers. The DiffID is hashed from the uncompressed bytes
// in the same pass.
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { InvalidArgumentError } from '@berth/errors';
import { HashingStream, decompressLayer } from '../compression.js';
import type { ImageRecord } from '../image-store.js';
import { MediaType, type ImageConfig, type ImageManifest, type Platform } from '../media-types.js';
import { parseDockerRef } from '../reference.js';
import type { TransferContext } from '../transfer-context.js';
import { applyLayers } from '../unpack.js';
import { ImageEvent, nameImage, withLease, writeJson } from './commit.js';

export interface ImportOptions {
  /** History comment (docker import --message). */
  message?: string;
  /** Container defaults for the config (Cmd, Env, WorkingDir...). */
  config?: ImageConfig['config'];
  platform?: Platform;
  labels?: Record<string, string>;
  /** Creation time written into the config (default now). */
  created?: Date;
}

/**
 * docker import accepts compressed tarballs too: a gzip or zstd stream is
 * inflated first, so the DiffID is that of the tar itself.
 */
async function uncompressed(input: Readable): Promise<Readable> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : Buffer.from(first.value as Uint8Array);
  async function* replay() {
    if (head.length) yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value as Uint8Array;
    }
  }
  const whole = Readable.from(replay(), { objectMode: false });
  if (head[0] === 0x1f && head[1] === 0x8b) return decompressLayer(whole, MediaType.OciLayerGzip);
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return decompressLayer(whole, MediaType.OciLayerZstd);
  return whole;
}

export async function importRootfs(ctx: TransferContext, rootfsTar: Readable, name: string | undefined, opts: ImportOptions = {}): Promise<ImageRecord> {
  const ref = name === undefined || name === '' ? undefined : parseDockerRef(name);
  if (ref?.digest) throw new InvalidArgumentError(`cannot import as ${name}: a digest names existing content, give a tag`, { field: 'reference' });
  return withLease(ctx, `import ${ref?.toString() ?? '<none>'}`, async (leaseId) => {
    const diff = new HashingStream();
    const writer = await ctx.content.openWriter({ ref: `import-${randomBytes(8).toString('hex')}`, leaseId });
    let layer: { digest: string; size: number };
    try {
      await pipeline(
        await uncompressed(rootfsTar),
        diff,
        createGzip(),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            writer.write(chunk).then(() => cb(), cb);
          },
        }),
      );
      layer = await writer.commit();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    const created = (opts.created ?? new Date()).toISOString();
    const platform = opts.platform ?? ctx.platform;
    const config: ImageConfig = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: opts.config ?? { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: [diff.digest()] },
      history: [{ created, created_by: 'berth import', ...(opts.message ? { comment: opts.message } : {}) }],
    };
    const configDesc = await writeJson(ctx, leaseId, MediaType.OciConfig, config);
    const layerDesc = { mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size };
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers: [layerDesc] };
    const target = await writeJson(ctx, leaseId, MediaType.OciManifest, manifest);
    await applyLayers(ctx.content, ctx.applier, [layerDesc], config, async () => undefined);
    return nameImage(ctx, ref?.toString(), target, configDesc.digest, ImageEvent.Imported, opts.labels);
  });
}
