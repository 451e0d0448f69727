// ImagesPort over berth.images.v1 (Images for lookups and commits, Transfer
// for pulls, Content for leases).
//
// Container references: the images service owns them. A container holds its
// image with a lease of its own (Content.CreateLease, id "container-<id>",
// never expiring, one "image" resource) from create to remove; the images
// service's rmi refuses the image's last name while it is held (Docker's
// conflict message), -f untags and keeps it, prune skips it, GC keeps it.
//
// Commit: Images.Commit builds the config and manifest over the parent and
// the layer the layers service's Diff already wrote to the content store.
import { createHash } from 'node:crypto';
import { FailedPreconditionError, isAlreadyExists, isNotFound, NotFoundError } from '@berth/errors';
import type { BerthClient } from '@berth/kit';
import type { imagesV1 } from '@berth/proto';
import { emptyImageConfig, type ImageConfig } from '../merge';
import { healthConfigFromDocker, healthConfigToDocker, type DockerHealthConfig } from '@berth/container-config';
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
    Healthcheck?: DockerHealthConfig | null;
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
      ...(c.Healthcheck ? { healthcheck: healthConfigFromDocker(c.Healthcheck) } : {}),
    },
    diffIds: doc.rootfs?.diff_ids ?? [],
  };
}

/** The lease through which a container holds its image. */
export const containerLeaseId = (containerId: string): string => `container-${containerId}`;

/** The engine's image config as the OCI image config's "config" object (image-spec config.md). */
export function ociRuntimeConfig(c: ImageConfig): Record<string, unknown> {
  return {
    User: c.user, Env: c.env, Entrypoint: c.entrypoint, Cmd: c.cmd, WorkingDir: c.workingDir, Labels: c.labels,
    ...(c.stopSignal ? { StopSignal: c.stopSignal } : {}),
    ...(c.healthcheck ? { Healthcheck: healthConfigToDocker(c.healthcheck) } : {}),
    ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])), Volumes: Object.fromEntries(c.volumes.map((v) => [v, {}])),
  };
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
  const hold = async (digest: string, containerId: string): Promise<void> => {
    try {
      await content.CreateLease({
        id: containerLeaseId(containerId), expiresInSeconds: -1, labels: { container: containerId },
        resources: [{ kind: 'image', key: digest }],
      });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e; // a retry after a lost reply: the lease is there
    }
  };
  const release = async (containerId: string): Promise<void> => {
    try {
      await content.DeleteLease({ id: containerLeaseId(containerId) });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
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
    addContainerRef: hold,
    removeContainerRef: (_digest, containerId) => release(containerId),
    async reconcileContainerRefs(held) {
      const { leases } = await content.ListLeases({});
      const have = new Set(leases.map((l) => l.id));
      for (const l of leases) {
        const id = l.labels['container'];
        if (id && l.id === containerLeaseId(id) && !held.has(id)) await release(id);
      }
      for (const [id, digest] of held) {
        if (have.has(containerLeaseId(id))) continue;
        // An image removed while nothing held it cannot be held again: the container keeps its root.
        await hold(digest, id).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
      }
    },
    async createImage(req) {
      const img = await images.Commit({
        parent: req.parentDigest,
        layer: { descriptor: { mediaType: req.layer.mediaType, digest: req.layer.digest, size: req.layer.size }, diffId: req.layer.diffId },
        configJson: Buffer.from(JSON.stringify(ociRuntimeConfig(req.config))),
        author: req.author, comment: req.comment, createdBy: `berth commit ${req.containerId.slice(0, 12)}`, reference: req.reference,
      });
      return { digest: img.id };
    },
  };
}
