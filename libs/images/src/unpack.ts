// Hands an image's layers, bottom to top, to the LayerApplier. Shared by
// pull (which feeds it as downloads finish), load and import.
import { DataLossError, InvalidArgumentError } from '@berth/errors';
import type { ContentStore } from './content-store.js';
import { chainIds } from './digest.js';
import type { LayerApplier } from './layer-applier.js';
import type { Descriptor, ImageConfig } from './media-types.js';

export type LayerProgress = { type: 'layer'; digest: string; diffId: string; chainId: string; status: 'applying' | 'applied' | 'exists' };

/**
 * Applies `layers` in order. `ready(i)` resolves when layer i's blob is in
 * the content store, so application of layer 0 overlaps downloads of the rest.
 * Layers whose chain the applier already has are skipped.
 */
export async function applyLayers(
  content: ContentStore,
  applier: LayerApplier,
  layers: Descriptor[],
  config: ImageConfig,
  ready: (i: number) => Promise<void>,
  onProgress: (p: LayerProgress) => void = () => undefined,
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
      onProgress({ type: 'layer', digest: desc.digest, diffId, chainId, status: 'exists' });
      continue;
    }
    await ready(i);
    onProgress({ type: 'layer', digest: desc.digest, diffId, chainId, status: 'applying' });
    const { chainId: got } = await applier.applyLayer(await content.readStream(desc.digest), {
      mediaType: desc.mediaType,
      expectedDiffId: diffId,
      parentChainId: i === 0 ? undefined : chains[i - 1],
    });
    if (got !== chainId) throw new DataLossError(`layer ${desc.digest} applied as chain ${got}, expected ${chainId}`, { field: 'chainId' });
    onProgress({ type: 'layer', digest: desc.digest, diffId, chainId, status: 'applied' });
  }
  return chains[chains.length - 1];
}
