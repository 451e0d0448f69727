// Images.Commit: a new image from a parent image, one new layer and a runtime
// config (docker commit; a build step is the same operation). The layer is
// already a blob in the content store (the layers service's Diff wrote it);
// this writes the image config and manifest next to it and names the result.
//
// The manifest keeps the parent's family: a Docker schema2 parent gives a
// Docker schema2 image (what Docker's own commit writes), anything else an
// OCI one; the new layer's media type is translated to the family (same
// bytes), so one manifest never mixes the two.
//
// Order: a lease protects the layer (checked present and of the promised size
// under the commit lock, so GC cannot take it in between), the config and the
// manifest until the record names them; the new layer is applied through the
// LayerApplier (the layers service) on the parent's chain, so the image runs;
// only then is the image named and the lease dropped (withLease). A failure
// anywhere leaves no record and no blob only the commit wrote.
import { FailedPreconditionError, InvalidArgumentError, isNotFound } from '@berth/errors';
import { nameImage, withLease, writeJson } from './archive/commit.js';
import { ImageEvent } from './events.js';
import type { ImageRecord } from './image-store.js';
import type { ImagesService } from './images-service.js';
import type { LayerApplier } from './layer-applier.js';
import { MediaType, type Descriptor, type HistoryEntry, type ImageConfig, type ImageManifest } from './media-types.js';
import { parseDockerRef } from './reference.js';
import { applyLayers } from './unpack.js';

export interface CommitRequest {
  /** Parent image (reference or ID); undefined: an image of `layer` alone. */
  parent?: string;
  /** The new top layer; undefined: none (the history entry is empty_layer). */
  layer?: { descriptor: Descriptor; diffId: string };
  /** The image config's "config" object (image-spec config.md): its keys replace the parent's (null clears one). */
  config: NonNullable<ImageConfig['config']>;
  author?: string;
  comment?: string;
  /** The history entry's created_by. */
  createdBy?: string;
  /** Name for the new image; undefined: dangling. */
  reference?: string;
}

/** OCI layer media types -> Docker's, for a layer added to a Docker schema2 image. */
const DOCKER_LAYER: Record<string, string> = {
  [MediaType.OciLayer]: MediaType.DockerLayer,
  [MediaType.OciLayerGzip]: MediaType.DockerLayerGzip,
};

export async function commitImage(images: ImagesService, applier: LayerApplier, req: CommitRequest): Promise<ImageRecord> {
  const name = req.reference ? parseDockerRef(req.reference).toString() : undefined;
  if (name && parseDockerRef(req.reference!).digest) {
    throw new InvalidArgumentError(`cannot name a committed image with a digest reference (${req.reference}): digests name content, not tags`, { field: 'reference' });
  }
  const parent = req.parent ? await images.resolveContent(images.resolve(req.parent)) : undefined;
  const docker = parent?.manifest.mediaType === MediaType.DockerManifest || parent?.manifestDesc.mediaType === MediaType.DockerManifest;
  const ctx = { content: images.content, store: images.store, leases: images.leases, events: images.events };
  return withLease(ctx, 'commit', async (leaseId) => {
    let layer: Descriptor | undefined;
    if (req.layer) {
      const d = req.layer.descriptor;
      try {
        await images.content.protect(d.digest, leaseId);
      } catch (e) {
        if (isNotFound(e)) throw new FailedPreconditionError(`commit: layer ${d.digest} is not in the content store: diff the container's root first`, { field: 'layer', cause: e });
        throw e;
      }
      const { size } = await images.content.info(d.digest);
      if (size !== d.size) throw new FailedPreconditionError(`commit: layer ${d.digest} is ${size} bytes in the content store, its descriptor says ${d.size}`, { field: 'layer' });
      layer = { mediaType: docker ? (DOCKER_LAYER[d.mediaType] ?? d.mediaType) : d.mediaType, digest: d.digest, size: d.size };
    }
    const created = new Date().toISOString();
    const base: ImageConfig = parent?.config ?? { architecture: images.platform.architecture, os: images.platform.os, rootfs: { type: 'layers', diff_ids: [] } };
    const history: HistoryEntry = {
      created,
      ...(req.author ? { author: req.author } : {}),
      ...(req.createdBy ? { created_by: req.createdBy } : {}),
      ...(req.comment ? { comment: req.comment } : {}),
      ...(layer ? {} : { empty_layer: true }),
    };
    const config: ImageConfig = {
      ...base,
      created,
      ...(req.author ? { author: req.author } : {}),
      // Keys the request names replace the parent's; others (Healthcheck, Shell...) stay, as docker commit keeps them.
      config: { ...(base.config ?? {}), ...req.config },
      rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...(req.layer ? [req.layer.diffId] : [])] },
      history: [...(base.history ?? []), history],
    };
    const configDesc = await writeJson(ctx, leaseId, docker ? MediaType.DockerConfig : MediaType.OciConfig, config);
    const manifestType = docker ? MediaType.DockerManifest : MediaType.OciManifest;
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: manifestType,
      config: configDesc,
      layers: [...(parent?.manifest.layers ?? []), ...(layer ? [layer] : [])],
    };
    const target = await writeJson(ctx, leaseId, manifestType, manifest);
    // Applies what the applier lacks (the new layer; the parent's are there), from the blobs in the store.
    await applyLayers(images.content, applier, manifest.layers, config, () => Promise.resolve());
    return nameImage(ctx, name, target, configDesc.digest, ImageEvent.Committed);
  });
}
