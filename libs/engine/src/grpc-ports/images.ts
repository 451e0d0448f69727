// ImagesPort over berth.images.v1 (Images for lookups, Transfer for pulls).
//
// Container references: the images service has no "add reference" call. It
// asks the engine instead (ListContainers: each container's image digest),
// so the engine's own record is the pin and add/removeContainerRef have
// nothing to send. addContainerRef still checks that the image exists, so a
// create racing an rmi fails instead of recording a dangling digest.
import { createHash } from 'node:crypto';
import { FailedPreconditionError, isNotFound, NotFoundError } from '@berth/errors';
import type { BerthClient } from '@berth/kit';
import type { imagesV1 } from '@berth/proto';
import { emptyImageConfig, type ImageConfig } from '../merge';
import type { ImagesPort, PullPolicy, ResolvedImage } from '../ports';

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

export function grpcImagesPort(images: ImagesClient, transfer: TransferClient): ImagesPort {
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
    async createImage() {
      // Needs an RPC that records an image from a config and a layer already
      // in the content store; berth.images.v1 has none yet (only Import of a
      // whole rootfs tar and Load of an archive).
      throw new FailedPreconditionError('commit is not available: the images service has no call to create an image from a container layer yet', { field: 'id' });
    },
  };
}

