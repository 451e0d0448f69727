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

/** A build's credentials for one registry (BuildOptions.registry_auths). */
export interface BuildRegistryAuth {
  serverAddress: string;
  username: string;
  password: string;
  identityToken: string;
}

/** Docker Hub's names for itself, as clients write them in their auth configs. */
const HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** The registry host of an image reference ("busybox" -> docker.io, "reg:5000/a" -> reg:5000). */
export function registryOfRef(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/** The credentials of `auths` for `ref`'s registry: a server address is compared by host (scheme and path dropped). */
export function authForRef(ref: string, auths: BuildRegistryAuth[]): BuildRegistryAuth | undefined {
  const host = (a: string) => {
    const h = a.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
    return HUB.has(h) ? 'docker.io' : h;
  };
  const want = host(registryOfRef(ref));
  return auths.find((a) => host(a.serverAddress) === want);
}

export interface BuildImagesPort {
  /** The image's ID and config ("config" object of its image config); NotFound when not local. */
  inspect(ref: string): Promise<{ id: string; config: OciConfig }>;
  /** Pulls `ref` from its registry (progress drained), with these credentials for this pull only when given. */
  pull(ref: string, auth?: BuildRegistryAuth): Promise<void>;
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
    async pull(ref, auth) {
      const credentials = auth ? { serverAddress: auth.serverAddress, username: auth.username, password: auth.password, identityToken: auth.identityToken, registryToken: '' } : null;
      for await (const _ of transfer.Pull({ reference: ref, credentials }) as AsyncIterable<imagesV1.PullResponse__Output>) { /* progress */ }
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
