// LayersPort over berth.layers.v1.Layers (and the images service's Content
// store for diff). The service returns mounts rather than mounting, except
// through Mount, which mounts a snapshot under its own state dir: the
// container's rootfs is that path (the namespaces service runs on the same
// host and pivots into it).
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { DataLossError, isAlreadyExists, isFailedPrecondition, isNotFound } from '@berth/errors';
import type { BerthClient } from '@berth/kit';
import type { imagesV1, layersV1 } from '@berth/proto';
import type { LayerDescriptor, LayersPort } from '../ports';
import { ignoreNotFound } from './shared';

export type LayersClient = BerthClient<layersV1.LayersDefinition, layersV1.LayersHandlers>;
export type ContentClient = BerthClient<imagesV1.ContentDefinition, imagesV1.ContentHandlers>;

/**
 * The label every writable root prepare makes carries (value: the container
 * id, its key): listRoots finds the engine's roots by it, and leaves the
 * layers service's other snapshots (layers, views) alone.
 */
export const CONTAINER_ROOT_LABEL = 'io.berth.engine.container';

export function grpcLayersPort(layers: LayersClient, content: ContentClient): LayersPort {
  const mount: LayersPort['mount'] = async (key, idMapping) => {
    // --userns auto: the service mounts every layer idmapped (LinuxIDMapping has IdRange's fields).
    return { rootfs: (await layers.Mount({ key, ...(idMapping ? { uidMappings: idMapping.uidMappings, gidMappings: idMapping.gidMappings } : {}) })).target };
  };
  return {
    async prepare(key, chain, idMapping) {
      try {
        await layers.Prepare({ key, parent: chain[chain.length - 1] ?? '', labels: { [CONTAINER_ROOT_LABEL]: key } });
      } catch (e) {
        // Idempotent per key: a retry after a lost reply reuses the snapshot.
        if (!isAlreadyExists(e)) throw e;
      }
      return mount(key, idMapping);
    },

    mount,

    async diff(key): Promise<LayerDescriptor> {
      // Stream the service's diff straight into the content store, under a
      // lease so GC cannot take the blob before an image names it.
      const lease = await content.CreateLease({ expiresInSeconds: 3600, labels: { 'berth.engine.commit': key } });
      const { stream: out, response } = content.Write();
      out.write({ ref: `commit-${key}-${randomBytes(4).toString('hex')}`, leaseId: lease.id });
      let result: layersV1.DiffResult__Output | null = null;
      try {
        for await (const m of layers.Diff({ key, gzip: true }) as AsyncIterable<layersV1.DiffResponse__Output>) {
          if (m.result) result = m.result;
          else if (m.data && !out.write({ data: m.data })) await once(out, 'drain');
        }
      } catch (e) {
        out.cancel();
        await response.catch(() => undefined);
        throw e;
      }
      if (!result) {
        out.cancel();
        throw new DataLossError(`layers service ended the diff of ${key} without its result message`, { field: 'key' });
      }
      out.write({ commit: true, expectedDigest: result.digest, expectedSize: result.compressedSize });
      out.end();
      const w = await response;
      if (w.digest !== result.digest) throw new DataLossError(`content store committed ${w.digest} for the diff of ${key}, expected ${result.digest}`, { field: 'key' });
      return { mediaType: result.mediaType, digest: result.digest, diffId: result.diffId, size: result.compressedSize };
    },

    async remove(key) {
      try {
        await layers.Unmount({ key });
      } catch (e) {
        // Not mounted (or already gone) is what we want.
        if (!isNotFound(e) && !isFailedPrecondition(e)) throw e;
      }
      await ignoreNotFound(layers.Remove({ key }));
    },

    async listRoots() {
      return (await layers.List({})).snapshots
        .filter((s) => s.kind === 'SNAPSHOT_KIND_ACTIVE' && s.labels[CONTAINER_ROOT_LABEL] === s.key)
        .map((s) => s.key);
    },
  };
}
