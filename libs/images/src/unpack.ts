// Hands an image's layers, bottom to top, to the LayerApplier. Shared by
// pull (which feeds it as downloads finish), load and import.
import { DataLossError, InvalidArgumentError } from '@berth/errors';
import type { ContentStore } from './content-store.js';
import { chainIds } from './digest.js';
import type { LayerApplier } from './layer-applier.js';
import type { Descriptor, ImageConfig } from './media-types.js';
import type { Readable } from 'node:stream';

export type LayerProgress = { type: 'layer'; digest: string; diffId: string; chainId: string; status: 'applying' | 'applied' | 'exists' };

/**
 * Applies `layers` in order. `ready(i)` resolves when layer i's blob is in
 * the content store, so application of layer 0 overlaps downloads of the rest.
 * `live(i)` may instead hand over the blob's bytes as they download (pull
 * does this for the bottom layer: the promise settles once the download holds
 * the blob's ingest from byte 0, or to undefined); if applying from that stream fails, the
 * layer is applied again from the store once its download has finished and
 * been verified. Layers whose chain the applier already has are skipped.
 */
export async function applyLayers(
  content: ContentStore,
  applier: LayerApplier,
  layers: Descriptor[],
  config: ImageConfig,
  ready: (i: number) => Promise<void>,
  onProgress: (p: LayerProgress) => void = () => undefined,
  live: (i: number) => Promise<Readable | undefined> | undefined = () => undefined,
): Promise<string | undefined> {
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layers.length) {
    throw new InvalidArgumentError(`image config lists ${diffIds.length} diff_ids but the manifest has ${layers.length} layers`, { field: 'rootfs.diff_ids' });
  }
  const chains = chainIds(diffIds);
  // Highest layer whose whole stack is already applied.
  let have = -1;
  for (let i = chains.length - 1; i >= 0; i--) {
    if (await applier.hasLayer(chains[i]!)) {
      have = i;
      break;
    }
  }
  for (let i = 0; i < layers.length; i++) {
    const desc = layers[i]!;
    const chainId = chains[i]!;
    const diffId = diffIds[i]!;
    if (i <= have) {
      void live(i)?.then((s) => s?.destroy());
      onProgress({ type: 'layer', digest: desc.digest, diffId, chainId, status: 'exists' });
      continue;
    }
    const opts = { mediaType: desc.mediaType, expectedDiffId: diffId, parentChainId: i === 0 ? undefined : chains[i - 1] };
    onProgress({ type: 'layer', digest: desc.digest, diffId, chainId, status: 'applying' });
    let got: string;
    // Waits until the download knows whether it streams this layer.
    const stream = await live(i);
    if (stream) {
      try {
        got = (await applier.applyLayer(stream, opts)).chainId;
      } catch (e) {
        // The live stream broke (a restarted download, another pull finished
        // the blob first): fall back to the verified blob. A real content
        // problem shows up again below, or as DataLoss from the download.
        await ready(i);
        if (await applier.hasLayer(chainId)) got = chainId;
        else got = (await applier.applyLayer(await content.readStream(desc.digest), opts)).chainId;
        void e;
      }
    } else {
      await ready(i);
      got = (await applier.applyLayer(await content.readStream(desc.digest), opts)).chainId;
    }
    // The download must also verify (the blob digest) before the layer counts.
    await ready(i);
    if (got !== chainId) throw new DataLossError(`layer ${desc.digest} applied as chain ${got}, expected ${chainId}`, { field: 'chainId' });
    onProgress({ type: 'layer', digest: desc.digest, diffId, chainId, status: 'applied' });
  }
  return chains[chains.length - 1];
}
