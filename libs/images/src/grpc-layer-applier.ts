// LayerApplier over gRPC: pull, load, import and busybox hand their layers to
// the layers service (berth.layers.v1.Layers), which owns every layer on disk.
//
// ApplyLayer is a client stream: one header message (media type, expected
// DiffID, parent chain), then the blob as stored in data chunks, written with
// backpressure so a large layer is never buffered whole. When the layers
// service already has the chain it replies at once (existed = true) and the
// rest of the blob is not sent. hasLayer is Stat on the chain ID: a committed
// snapshot with that key means the stack is applied.
//
// The client is created on first use, so the images service starts (and
// serves everything that needs no layer) while the layers service is not up
// yet; calls made meanwhile fail Unavailable, as any call to a down service.
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { isNotFound } from '@berth/errors';
import { createClient, type BerthClient } from '@berth/kit';
import type { layersV1 } from '@berth/proto';
import type { ApplyLayerOptions, LayerApplier } from './layer-applier.js';

type LayersClient = BerthClient<layersV1.LayersDefinition, layersV1.LayersHandlers>;

/** Bytes per data message: the layers service takes any size; 1 MiB keeps messages small. */
const CHUNK = 1 << 20;

export class GrpcLayerApplier implements LayerApplier {
  private client: LayersClient | undefined;
  private closed = false;

  /** `addresses` is called on first use: ctx.addressesOf('layers'). */
  constructor(private readonly addresses: () => string[], private readonly timeoutMs = 30 * 60_000) {}

  private layers(): LayersClient {
    if (this.closed) throw new Error('layer applier closed');
    this.client ??= createClient<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', this.addresses());
    return this.client;
  }

  async applyLayer(input: Readable, opts: ApplyLayerOptions): Promise<{ chainId: string }> {
    const { stream: call, response } = this.layers().ApplyLayer({ timeoutMs: this.timeoutMs });
    // Failures arrive through `response` (typed); the stream's own error
    // event would otherwise be unhandled.
    call.on('error', () => undefined);
    let replied = false;
    const settled = response.then(
      () => { replied = true; },
      () => { replied = true; },
    );
    try {
      call.write({ header: { mediaType: opts.mediaType, expectedDiffId: opts.expectedDiffId, parentChainId: opts.parentChainId ?? '', labels: {} } });
      for await (const buf of input as AsyncIterable<Buffer>) {
        for (let off = 0; off < buf.length && !replied; off += CHUNK) {
          if (!call.write({ data: buf.subarray(off, off + CHUNK) })) await Promise.race([once(call, 'drain').catch(() => undefined), settled]);
        }
        // An early reply (the layer existed, or a failure): stop reading the blob.
        if (replied) break;
      }
    } catch (e) {
      // The blob could not be read: cancel so the layers service keeps nothing.
      call.cancel();
      await settled;
      throw e;
    }
    if (!replied) call.end();
    const r = await response;
    return { chainId: r.chainId };
  }

  async hasLayer(chainId: string): Promise<boolean> {
    try {
      const info = await this.layers().Stat({ key: chainId });
      return info.kind === 'SNAPSHOT_KIND_COMMITTED';
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = undefined;
  }
}
