// The layers service's gRPC layer (berth.layers.v1.Layers): maps wire
// messages onto LayerStore and back (docs/design/services.md). Two RPCs are
// streams and carry the only logic here, plumbing:
//  - ApplyLayer (client stream): header first, then data chunks, fed into a
//    Readable that applyLayer reads with backpressure. A cancelled call or a
//    broken message sequence destroys that Readable, so applyLayer fails and
//    removes its staging dir: nothing is kept.
//  - Diff (server stream): the tar in chunks of up to 1 MiB, then one result
//    message. A cancelled call tears the diff pipeline down (releasing the
//    snapshot's in-use hold).
// Metrics: berth_layers_snapshots{kind} and berth_layers_committed_bytes,
// both read from the metadata at scrape time (no disk walk).
import { resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { ErrorCode, InvalidArgumentError, makeError } from '@berth/errors';
import { send, stateDir, writableAgain, type AsyncHandlers, type ServiceModule } from '@berth/kit';
import type { layersV1 } from '@berth/proto';
import { Gauge } from 'prom-client';
import type { Mount, SnapshotKind } from './driver';
import { LayerStore, type SnapshotInfo } from './store';

type Handlers = AsyncHandlers<layersV1.LayersHandlers>;

/** Largest data message Diff sends (grpc-js receivers take 4 MiB by default). */
const DIFF_CHUNK = 1 << 20;

const KIND: Record<SnapshotKind, layersV1.SnapshotKind> = {
  committed: 'SNAPSHOT_KIND_COMMITTED',
  active: 'SNAPSHOT_KIND_ACTIVE',
  view: 'SNAPSHOT_KIND_VIEW',
};

function timestamp(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

function snapshotToWire(s: SnapshotInfo): layersV1.SnapshotInfo {
  return {
    key: s.key,
    kind: KIND[s.kind],
    parent: s.parent ?? '',
    labels: { ...s.labels },
    diffId: s.diffId ?? '',
    size: s.size ?? 0,
    createdAt: timestamp(s.createdAt),
    updatedAt: timestamp(s.updatedAt),
  };
}

function mountsToWire(ms: Mount[]): layersV1.MountsResponse {
  // Root filesystem mounts: no destination (the runtime mounts them at the root).
  return { mounts: ms.map((m) => ({ destination: '', type: m.type, source: m.source, options: [...m.options] })) };
}

export const layersModule: ServiceModule = {
  name: 'layers',
  grpcService: 'berth.layers.v1.Layers',
  async start(ctx) {
    const store = LayerStore.open({ root: stateDir('layers', ctx.paths) });
    ctx.log.info(store.info(), 'layer store open');

    new Gauge({
      name: 'berth_layers_snapshots',
      help: 'Snapshots the layers service keeps, by kind (committed layers, active roots, views).',
      labelNames: ['kind'] as const,
      registers: [ctx.registry],
      collect() {
        const counts: Record<SnapshotKind, number> = { committed: 0, active: 0, view: 0 };
        for (const s of store.list()) counts[s.kind]++;
        for (const [kind, n] of Object.entries(counts)) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: 'berth_layers_committed_bytes',
      help: 'Uncompressed tar bytes of the committed layers whose size is known.',
      registers: [ctx.registry],
      collect() {
        this.set(store.list().reduce((n, s) => n + (s.kind === 'committed' ? (s.size ?? 0) : 0), 0));
      },
    });

    const handlers: Handlers = {
      ApplyLayer: async (call, cctx) => {
        const iterator = (call as AsyncIterable<layersV1.ApplyLayerRequest__Output>)[Symbol.asyncIterator]();
        // A cancelled call need not end its message stream: stop waiting on it then.
        const cancelled = new Promise<IteratorResult<layersV1.ApplyLayerRequest__Output>>((resolve) => {
          if (cctx.signal.aborted) resolve({ done: true, value: undefined });
          cctx.signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true });
        });
        const messages = { next: () => Promise.race([iterator.next(), cancelled]) };
        const first = await messages.next();
        if (cctx.signal.aborted) throw makeError(ErrorCode.Cancelled, 'the ApplyLayer call was cancelled before its header arrived');
        const header = first.done ? undefined : first.value.header;
        if (!header || first.value?.part !== 'header') {
          throw new InvalidArgumentError('header: the first ApplyLayer message must carry the header (media type, DiffID, parent), then the data chunks follow', { field: 'header' });
        }
        const input = new PassThrough({ highWaterMark: 1 << 20 });
        // Why the stream was torn down, when it was this side's doing: that
        // error, not applyLayer's view of a broken input, is the answer.
        let streamError: Error | undefined;
        const fail = (e: Error) => {
          streamError ??= e;
          input.destroy(e);
        };
        const onAbort = () => fail(makeError(ErrorCode.Cancelled, 'the ApplyLayer call was cancelled before the layer was complete; nothing was stored'));
        cctx.signal.addEventListener('abort', onAbort, { once: true });
        const pump = async () => {
          for (let m = await messages.next(); !m.done; m = await messages.next()) {
            if (input.destroyed) return; // applyLayer is done (existed, or failed): ignore the rest
            if (m.value.part !== 'data') {
              fail(new InvalidArgumentError('header: sent twice; an ApplyLayer call carries one header, then only data chunks', { field: 'header' }));
              return;
            }
            if (m.value.data && m.value.data.length > 0 && !input.write(m.value.data)) await writableAgain(input);
          }
          if (!input.destroyed) input.end();
        };
        pump().catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));
        try {
          const res = await store.applyLayer(input, {
            mediaType: header.mediaType,
            ...(header.expectedDiffId ? { expectedDiffId: header.expectedDiffId } : {}),
            ...(header.parentChainId ? { parentChainId: header.parentChainId } : {}),
            labels: { ...header.labels },
          });
          return { chainId: res.chainId, diffId: res.diffId, size: res.size, existed: res.existed };
        } catch (e) {
          throw streamError ?? e;
        } finally {
          cctx.signal.removeEventListener('abort', onAbort);
          if (!input.destroyed) input.destroy();
        }
      },
      Prepare: async (req) => mountsToWire(store.prepare(req.key, req.parent || null, { ...req.labels })),
      View: async (req) => mountsToWire(store.view(req.key, req.parent || null, { ...req.labels })),
      Mounts: async (req) => mountsToWire(store.mounts(req.key)),
      Mount: async (req) => {
        // Idempotent: a mounted snapshot answers where it is mounted (a retry
        // after a lost reply, the engine making sure a root is there before a
        // start). It is not remounted with other options.
        const at = store.mountTarget(req.key);
        const ranges = (ms: typeof req.uidMappings) => ms.map((m) => ({ containerId: m.containerId, hostId: m.hostId, size: m.size }));
        if (at !== undefined && (!req.target || resolve(req.target) === at)) {
          // Its shim still needs to search the dirs above it (store.ts grantTraversal).
          if (req.gidMappings.length > 0) store.grantTraversal(req.key, { uidMappings: ranges(req.uidMappings), gidMappings: ranges(req.gidMappings) });
          return { target: at };
        }
        if (req.uidMappings.length === 0 && req.gidMappings.length === 0) return { target: store.mount(req.key, req.target || undefined) };
        return { target: await store.mountIdmapped(req.key, { uidMappings: ranges(req.uidMappings), gidMappings: ranges(req.gidMappings) }, req.target || undefined) };
      },
      Unmount: async (req) => {
        await store.unmountAsync(req.key);
        return {};
      },
      Commit: async (req) => {
        const labels = Object.keys(req.labels).length > 0 ? { ...req.labels } : undefined;
        return snapshotToWire(await store.commit(req.key, req.name || undefined, labels));
      },
      Diff: async (req, call, cctx) => {
        const { stream, done } = store.diff(req.key, { compression: req.gzip ? 'gzip' : 'none' });
        const onAbort = () => stream.destroy();
        cctx.signal.addEventListener('abort', onAbort, { once: true });
        const sendChunk = (data: Buffer) => send(call, { data }, cctx.signal);
        try {
          // Coalesce the tar's small pieces (512-byte headers) into large messages.
          let pending: Buffer[] = [];
          let pendingBytes = 0;
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            if (cctx.signal.aborted) break;
            pending.push(chunk);
            pendingBytes += chunk.length;
            while (pendingBytes >= DIFF_CHUNK) {
              const all = Buffer.concat(pending);
              await sendChunk(all.subarray(0, DIFF_CHUNK));
              pending = [all.subarray(DIFF_CHUNK)];
              pendingBytes = all.length - DIFF_CHUNK;
            }
          }
          if (cctx.signal.aborted) {
            stream.destroy();
            await done.catch(() => undefined);
            return;
          }
          if (pendingBytes > 0) await sendChunk(Buffer.concat(pending));
          const r = await done;
          call.write({ result: { diffId: r.diffId, digest: r.digest, size: r.size, compressedSize: r.compressedSize, mediaType: r.mediaType } });
        } catch (e) {
          // The stream only says it broke; `done` carries the typed reason.
          const typed: unknown = await done.then(() => undefined, (err: unknown) => err);
          throw typed ?? e;
        } finally {
          cctx.signal.removeEventListener('abort', onAbort);
          if (!stream.destroyed) stream.destroy();
        }
      },
      Usage: async (req) => {
        const u = store.usage(req.key);
        return { size: u.size, inodes: u.inodes };
      },
      Stat: async (req) => snapshotToWire(store.stat(req.key)),
      List: async () => ({ snapshots: store.list().map(snapshotToWire) }),
      Remove: async (req) => {
        store.remove(req.key);
        return {};
      },
      GarbageCollect: async (req) => ({ removed: store.garbageCollect(req.referencedChainIds, req.referencedSnapshotKeys).removed }),
      Info: async () => store.info(),
    };
    return {
      handlers,
      close: async () => {
        await store.removalsDone();
        store.close();
      },
    };
  },
};
