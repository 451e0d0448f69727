// The slice of the images service a build uses (the engine's port for it,
// as ports.ts's are for containers), and its gRPC adapter. Kept apart from
// ImagesPort: a build works on whole OCI configs (Healthcheck, Shell,
// OnBuild...) and names its history entries, where docker commit maps the
// container's config.
import { isNotFound } from '@berth/errors';
import type { BerthClient } from '@berth/kit';
import type { imagesV1 } from '@berth/proto';
import type { OciConfig } from '@berth/build';
import type { LayerDescriptor } from '../ports';

export interface BuildImagesPort {
  /** The image's ID and config ("config" object of its image config); NotFound when not local. */
  inspect(ref: string): Promise<{ id: string; config: OciConfig }>;
  /** Pulls `ref` from its registry (progress drained). */
  pull(ref: string): Promise<void>;
  /**
   * Images.Commit: a new image on `parent` ("" = none) with `layer` (null =
   * a config-only step, an empty_layer history entry), the whole `config`,
   * and history entry `createdBy`; returns the image ID.
   */
  commit(req: { parent: string; layer: LayerDescriptor | null; config: OciConfig; createdBy: string }): Promise<string>;
  /** Gives image `id` the name `reference`. */
  tag(id: string, reference: string): Promise<void>;
}

type ImagesClient = BerthClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>;
type TransferClient = BerthClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>;

export function grpcBuildImagesPort(images: ImagesClient, transfer: TransferClient): BuildImagesPort {
  return {
    async inspect(ref) {
      const ins = await images.Inspect({ reference: ref });
      const doc = JSON.parse(Buffer.from(ins.configJson).toString('utf8')) as { config?: OciConfig };
      return { id: ins.image?.id ?? '', config: doc.config ?? {} };
    },
    async pull(ref) {
      for await (const _ of transfer.Pull({ reference: ref }) as AsyncIterable<imagesV1.PullResponse__Output>) { /* progress */ }
    },
    async commit(req) {
      const img = await images.Commit({
        parent: req.parent,
        layer: req.layer ? { descriptor: { mediaType: req.layer.mediaType, digest: req.layer.digest, size: req.layer.size }, diffId: req.layer.diffId } : null,
        configJson: Buffer.from(JSON.stringify(req.config)), author: '', comment: '', createdBy: req.createdBy, reference: '',
      });
      return img.id;
    },
    async tag(id, reference) {
      await images.Tag({ source: id, target: reference });
    },
  };
}

/** NotFound -> null. */
export async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}
