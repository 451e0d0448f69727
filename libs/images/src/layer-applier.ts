// The boundary between the images service and the layers service.
//
// Pull, load and import end by handing every layer of the image, bottom to
// top, to a LayerApplier, so that an image is runnable when the call returns.
// The layers service (libs/layers) implements it for real (snapshots);
// UnpackLayerApplier in this lib is a plain-directory implementation used by
// tests and the benchmark.
import type { Readable } from 'node:stream';

export interface ApplyLayerOptions {
  /** Layer media type: tells the applier how the stream is compressed. */
  mediaType: string;
  /** DiffID from the image config: sha256 of the uncompressed tar. The applier must verify it. */
  expectedDiffId: string;
  /** ChainID of the layers below (undefined for the bottom layer). */
  parentChainId: string | undefined;
}

export interface LayerApplier {
  /**
   * Unpacks one layer (the blob as stored: possibly compressed) on top of
   * `parentChainId`. Resolves with the new ChainID, which must equal
   * sha256(parentChainId + " " + diffId), or diffId for the bottom layer.
   * Rejects with DataLoss when the uncompressed bytes do not hash to
   * expectedDiffId, leaving nothing applied.
   */
  applyLayer(stream: Readable, opts: ApplyLayerOptions): Promise<{ chainId: string }>;
  /** True when the stack named by chainId is already applied (pull then skips it). */
  hasLayer(chainId: string): Promise<boolean>;
}
