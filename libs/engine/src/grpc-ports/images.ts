// ImagesPort over berth.images.v1 (Images for lookups, Transfer for pulls).
//
// Container references: the images service has no "add reference" call. It
// asks the engine instead (ListContainers: each container's image digest),
// so the engine's own record is the pin and add/removeContainerRef have
// nothing to send. addContainerRef still checks that the image exists, so a
// create racing an rmi fails instead of recording a dangling digest.
//
// Commit: there is no "create image" call either; the new image goes in as
// an OCI image layout through Transfer.Load (what `docker load` uses).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { DataLossError, FailedPreconditionError, isNotFound, NotFoundError } from '@berth/errors';
import type { BerthClient } from '@berth/kit';
import type { imagesV1 } from '@berth/proto';
import { emptyImageConfig, type ImageConfig } from '../merge';
import type { ImagesPort, PullPolicy, ResolvedImage } from '../ports';
import type { ContentClient } from './layers';

export type ImagesClient = BerthClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>;
export type TransferClient = BerthClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>;

/** OCI chain ids from diff ids, bottom layer first (image-spec config.md). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

interface OciConfigJson {
  config?: {
    User?: string; ExposedPorts?: Record<string, unknown> | null; Env?: string[] | null; Entrypoint?: string[] | null; Cmd?: string[] | null;
    Volumes?: Record<string, unknown> | null; WorkingDir?: string; Labels?: Record<string, string> | null; StopSignal?: string;
  };
  rootfs?: { diff_ids?: string[] };
}

/** The runtime part of an OCI image config JSON, in the engine's shape. */
export function imageConfigFromJson(raw: Buffer | string, ref: string): { config: ImageConfig; diffIds: string[] } {
  let doc: OciConfigJson;
  try {
    doc = JSON.parse(raw.toString()) as OciConfigJson;
  } catch (e) {
    throw new FailedPreconditionError(`image ${ref}: its config is not JSON (${(e as Error).message}); remove and pull it again`, { field: 'image' });
  }
  const c = doc.config ?? {};
  return {
    config: {
      ...emptyImageConfig(),
      user: c.User ?? '', exposedPorts: Object.keys(c.ExposedPorts ?? {}), env: c.Env ?? [],
      entrypoint: c.Entrypoint ?? null, cmd: c.Cmd ?? null, volumes: Object.keys(c.Volumes ?? {}),
      workingDir: c.WorkingDir ?? '', labels: c.Labels ?? {}, stopSignal: c.StopSignal ?? '',
    },
    diffIds: doc.rootfs?.diff_ids ?? [],
  };
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blobPath = (digest: string): string => `blobs/${digest.replace(':', '/')}`;

/** One ustar header for a regular file (names here are short: no prefix split needed). */
export function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, len, 'ascii');
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0');
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

export function grpcImagesPort(images: ImagesClient, transfer: TransferClient, content: ContentClient): ImagesPort {
  const pull = async (ref: string): Promise<void> => {
    // Drain the progress stream; the service records the image before its last message.
    for await (const _ of transfer.Pull({ reference: ref }) as AsyncIterable<imagesV1.PullResponse__Output>) { /* progress */ }
  };
  const inspect = async (ref: string): Promise<ResolvedImage> => {
    const ins = await images.Inspect({ reference: ref });
    const { config, diffIds } = imageConfigFromJson(ins.configJson, ref);
    const ids = diffIds.length ? diffIds : ins.layers.map((l) => l.diffId);
    return { ref: ins.image?.name ?? ref, digest: ins.image?.id ?? '', config, layers: chainIds(ids) };
  };
  return {
    async resolve(ref: string, policy: PullPolicy): Promise<ResolvedImage> {
      if (policy === 'always') {
        await pull(ref);
        return inspect(ref);
      }
      try {
        return await inspect(ref);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        if (policy === 'never') throw new NotFoundError(`image ${ref} is not present locally and pull is "never": pull it first`, { field: 'config.image' });
      }
      await pull(ref);
      return inspect(ref);
    },
    async addContainerRef(digest) {
      await images.Get({ reference: digest });
    },
    async removeContainerRef() {
      // The record going away is the release (see the file comment).
    },
    async createImage(req) {
      // The images service records images from archives (Load): send it an
      // OCI image layout holding the parent's blobs, the new layer (already in
      // the content store from LayersPort.diff) and the new config/manifest.
      const parent = await images.Inspect({ reference: req.parentDigest });
      const parentConfig = JSON.parse(parent.configJson.toString()) as Record<string, unknown> & { config?: Record<string, unknown>; rootfs?: { diff_ids?: string[] }; history?: unknown[] };
      const parentManifest = JSON.parse(parent.manifestJson.toString()) as { layers?: { mediaType: string; digest: string; size: number }[] };
      const created = new Date().toISOString();
      const c = req.config;
      const config = {
        ...parentConfig,
        created,
        ...(req.author ? { author: req.author } : {}),
        config: {
          ...(parentConfig.config ?? {}),
          User: c.user, Env: c.env, Entrypoint: c.entrypoint, Cmd: c.cmd, WorkingDir: c.workingDir, Labels: c.labels, StopSignal: c.stopSignal || undefined,
          ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])), Volumes: Object.fromEntries(c.volumes.map((v) => [v, {}])),
        },
        rootfs: { type: 'layers', diff_ids: [...(parentConfig.rootfs?.diff_ids ?? []), req.layer.diffId] },
        history: [...(parentConfig.history ?? []), { created, author: req.author, comment: req.comment, created_by: `berth commit ${req.containerId.slice(0, 12)}` }],
      };
      const configBuf = Buffer.from(JSON.stringify(config));
      const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBuf), size: configBuf.length };
      const layers = [...(parentManifest.layers ?? []).map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })), { mediaType: req.layer.mediaType, digest: req.layer.digest, size: req.layer.size }];
      const manifestBuf = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers }));
      const manifestDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifestBuf), size: manifestBuf.length };
      const index = {
        schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ ...manifestDesc, ...(req.reference ? { annotations: { 'io.containerd.image.name': req.reference } } : {}) }],
      };

      const { stream, response } = transfer.Load();
      const send = async (data: Buffer): Promise<void> => {
        if (!stream.write({ data })) await once(stream, 'drain');
      };
      try {
        const file = async (name: string, size: number, body: () => AsyncIterable<Buffer>): Promise<void> => {
          await send(tarHeader(name, size));
          let sent = 0;
          for await (const chunk of body()) {
            sent += chunk.length;
            await send(chunk);
          }
          if (sent !== size) throw new DataLossError(`blob ${name} has ${sent} bytes, its descriptor says ${size}`, { field: 'layers' });
          if (size % 512) await send(Buffer.alloc(512 - (size % 512)));
        };
        const buf = (b: Buffer) => async function* (): AsyncIterable<Buffer> { yield b; };
        const blob = (digest: string) => async function* (): AsyncIterable<Buffer> {
          for await (const m of content.Read({ digest }) as AsyncIterable<imagesV1.ReadContentResponse__Output>) yield m.data;
        };
        const layout = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }));
        await file('oci-layout', layout.length, buf(layout));
        const indexBuf = Buffer.from(JSON.stringify(index));
        await file('index.json', indexBuf.length, buf(indexBuf));
        await file(blobPath(configDesc.digest), configBuf.length, buf(configBuf));
        await file(blobPath(manifestDesc.digest), manifestBuf.length, buf(manifestBuf));
        for (const l of layers) await file(blobPath(l.digest), l.size, blob(l.digest));
        await send(Buffer.alloc(1024));
        stream.end();
      } catch (e) {
        stream.cancel();
        await response.catch(() => undefined);
        throw e;
      }
      const loaded = await response;
      const img = loaded.images[0];
      if (!img) throw new DataLossError('the images service loaded the committed image but reported none', { field: 'id' });
      return { digest: img.id || configDesc.digest };
    },
  };
}

