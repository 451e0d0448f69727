// The images service's gRPC layer: maps berth.images.v1 messages onto
// ImagesLocal (content, leases, images, transfer) and back, nothing else
// (docs/design/services.md). Typed errors thrown by the local API become gRPC
// statuses in the kit.
//
// The proto defines three services served by one process: Images (the
// module's grpcService, served by the kit), Content and Transfer. A
// ServiceHost serves one gRPC service today, so the module returns the
// handlers of the other two in `services` (ImagesStarted) for the host to add
// on the same socket; `imagesHandlers()` builds all three for any server.
//
// State: stateDir('images') holds meta.db, blobs/ and ingest/.
// Layers: pull, load, import and busybox apply layers through the layers
// service (GrpcLayerApplier, a lazily created client of ctx.addressesOf('layers')).
// In-use: a container holds its image with a lease (the engine creates it at
// container create and deletes it at remove); Remove and Prune consult the
// leases (images-service.ts), so any client's rmi gets Docker's conflict.
//
// busybox: start() makes sure busybox:latest exists (built from the host's
// busybox-static, see archive/busybox.ts) so `berth run busybox` works on a
// fresh machine. That applies its layer through the layers service; when
// layers is not reachable yet (berthd may start it later, or it restarts),
// start does not fail: it logs and retries in the background with backoff
// until the image exists or the service closes. Any other failure (no
// /bin/busybox) is logged once and not retried.
//
// Events: image.pulled/pushed/imported/loaded/tagged/deleted go to
// berth.images.image.<action> with berth.events.v1.ImageEvent
// {reference, digest, action, bytes}; bytes is what a Pull or Push RPC
// moved over the network (blobs downloaded or uploaded, not those that
// existed), 0 for the other actions.
import { AsyncLocalStorage } from 'node:async_hooks';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { InvalidArgumentError, isUnavailable } from '@berth/errors';
import { subjects } from '@berth/events';
import { stateDir, type AsyncHandlers, type CallContext, type ServiceContext, type ServiceModule, type StartedService } from '@berth/kit';
import type { imagesV1 } from '@berth/proto';
import { ImageEvent, type ImageEventPayload } from './events.js';
import { GrpcLayerApplier } from './grpc-layer-applier.js';
import { isDanglingName, type ImageRecord } from './image-store.js';
import { ImagesLocal } from './local.js';
import { pullCredentials } from './pull-credentials.js';
import { parseReference } from './reference.js';
import {
  commitFromWire, contentInfoToWire, gcToWire, imageToWire, ingestStatusToWire, inspectToWire, leaseCreateFromWire, leaseToWire, listFiltersFromWire,
  platformFromWire, pullProgressToWire, pushProgressToWire, removeToWire,
} from './wire.js';

type ImagesH = AsyncHandlers<imagesV1.ImagesHandlers>;
type ContentH = AsyncHandlers<imagesV1.ContentHandlers>;
type TransferH = AsyncHandlers<imagesV1.TransferHandlers>;

/** Handlers of the three services of berth.images.v1, by fully-qualified name. */
export interface ImagesServiceHandlers {
  'berth.images.v1.Images': ImagesH;
  'berth.images.v1.Content': ContentH;
  'berth.images.v1.Transfer': TransferH;
}

/** What imagesModule.start returns: Images handlers, plus Content and Transfer for the same socket. */
export interface ImagesStarted extends StartedService {
  services: Pick<ImagesServiceHandlers, 'berth.images.v1.Content' | 'berth.images.v1.Transfer'>;
}

/** Largest data message a server stream sends (receivers take 4 MiB by default). */
const CHUNK = 1 << 20;

/** ImageRecord -> berth.images.v1.Image (what ImagesService's summaries hold). */
export function recordToWire(r: ImageRecord): imagesV1.Image {
  const dangling = isDanglingName(r.name);
  return imageToWire({
    name: r.name,
    familiarName: dangling ? '<none>:<none>' : parseReference(r.name).familiarString(),
    target: r.target,
    id: r.configDigest,
    dangling,
    labels: r.labels,
    createdAt: r.createdAt,
  }) as imagesV1.Image;
}

/** Writes `data` in messages of at most CHUNK bytes, waiting for the client when the stream is full. */
async function writeChunked(call: NodeJS.EventEmitter & { write(m: unknown): boolean }, data: Buffer, wrap: (b: Buffer) => unknown): Promise<void> {
  for (let off = 0; off < data.length; off += CHUNK) {
    if (!call.write(wrap(data.subarray(off, off + CHUNK)))) await once(call, 'drain');
  }
}

/** The message stream of a client-streaming call, first message apart (undefined when the stream is empty). */
async function splitFirst<M>(call: AsyncIterable<M>): Promise<{ first: M | undefined; rest: AsyncIterator<M> }> {
  const rest = call[Symbol.asyncIterator]();
  const r = await rest.next();
  return { first: r.done ? undefined : r.value, rest };
}

/** The `data` bytes of a client stream (first message included) as a Readable. */
function dataReadable<M extends { data: Buffer }>(first: M | undefined, rest: AsyncIterator<M>): Readable {
  return Readable.from(
    (async function* () {
      if (first?.data.length) yield first.data;
      for (;;) {
        const r = await rest.next();
        if (r.done) return;
        if (r.value.data.length) yield r.value.data;
      }
    })(),
    { objectMode: false },
  );
}

/** Bytes a transfer moved, per Pull/Push call (read by the event listener within the call). */
interface Moved {
  perBlob: Map<string, number>;
  skipped: Set<string>;
}
const movedOf = (m: Moved) => [...m.perBlob].reduce((a, [d, n]) => a + (m.skipped.has(d) ? 0 : n), 0);
function noteBlob(m: Moved, digest: string, status: string, current: number): void {
  if (status === 'exists' || status === 'mounted') m.skipped.add(digest);
  else m.perBlob.set(digest, Math.max(m.perBlob.get(digest) ?? 0, current));
}

/** Builds the handlers of Images, Content and Transfer over one ImagesLocal. */
export function imagesHandlers(local: ImagesLocal, moved: AsyncLocalStorage<Moved> = new AsyncLocalStorage()): ImagesServiceHandlers {
  const { content, leases, images, transfer } = local;

  const imagesH: ImagesH = {
    List: async (req) => ({ images: images.list(listFiltersFromWire(req)).map((s) => imageToWire(s) as imagesV1.Image) }),
    Get: async (req) => recordToWire(images.get(req.reference)),
    Inspect: async (req) => {
      const platform = platformFromWire(req.platform);
      return inspectToWire(await images.inspect(req.reference, platform ? { platform } : {})) as imagesV1.ImageInspect;
    },
    Tag: async (req) => recordToWire(images.tag(req.source, req.target)),
    Untag: async (req) => recordToWire(images.untag(req.reference)),
    Remove: async (req) => removeToWire(await images.remove(req.reference, { force: req.force, noPrune: req.noPrune })) as imagesV1.RemoveImageResponse,
    Prune: async () => removeToWire(await images.prune()) as imagesV1.RemoveImageResponse,
    GarbageCollect: async () => gcToWire(await images.gc()) as imagesV1.GarbageCollectResponse,
    Commit: async (req) => recordToWire(await images.commit(commitFromWire(req as unknown as Record<string, unknown>))),
  };

  const contentH: ContentH = {
    Info: async (req) => contentInfoToWire(await content.info(req.digest)) as imagesV1.ContentInfo,
    List: async () => ({ blobs: (await content.list()).map((c) => contentInfoToWire(c) as imagesV1.ContentInfo) }),
    Read: async (req, call, cctx) => {
      // Wire length 0 means "to the end".
      const stream = await content.readStream(req.digest, { offset: req.offset, ...(req.length > 0 ? { length: req.length } : {}) });
      const abort = () => stream.destroy();
      cctx.signal.addEventListener('abort', abort, { once: true });
      try {
        let offset = req.offset;
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          const at = offset;
          await writeChunked(call, chunk, (b) => ({ offset: at + (b.byteOffset - chunk.byteOffset), data: b }));
          offset += chunk.length;
        }
      } finally {
        cctx.signal.removeEventListener('abort', abort);
        stream.destroy();
      }
    },
    Delete: async (req) => {
      await content.delete(req.digest);
      return {};
    },
    Write: async (call) => {
      const { first, rest } = await splitFirst(call as AsyncIterable<imagesV1.WriteContentRequest__Output>);
      if (!first) throw new InvalidArgumentError('Write: the stream was empty; the first message must name the ingest ref', { field: 'ref' });
      if (!first.ref) throw new InvalidArgumentError('ref: the first Write message must name the ingest (same ref resumes)', { field: 'ref' });
      const expected = {
        ...(first.expectedDigest ? { digest: first.expectedDigest } : {}),
        ...(first.expectedSize ? { size: first.expectedSize } : {}),
      };
      const writer = await content.openWriter({
        ref: first.ref,
        ...(Object.keys(expected).length ? { expected } : {}),
        ...(first.leaseId ? { leaseId: first.leaseId } : {}),
      });
      let committed: { digest: string; size: number } | undefined;
      try {
        for (let m: imagesV1.WriteContentRequest__Output | undefined = first; m; ) {
          if (committed) throw new InvalidArgumentError(`ingest ${first.ref}: data after the commit message`, { field: 'commit' });
          if (m.data.length) await writer.write(m.data);
          if (m.commit) committed = await writer.commit();
          const r = await rest.next();
          m = r.done ? undefined : r.value;
        }
      } finally {
        // Not committed (the stream ended or broke): keep the partial data for a resume.
        if (!committed) await writer.close();
      }
      return committed ? { offset: committed.size, digest: committed.digest, size: committed.size } : { offset: writer.offset, digest: '', size: 0 };
    },
    Status: async (req) => ingestStatusToWire(await content.status(req.ref)) as imagesV1.IngestStatus,
    ListStatuses: async () => ({ statuses: (await content.listStatuses()).map((s) => ingestStatusToWire(s) as imagesV1.IngestStatus) }),
    Abort: async (req) => {
      await content.abort(req.ref);
      return {};
    },
    CreateLease: async (req) => leaseToWire(images.createLease(leaseCreateFromWire(req as unknown as Record<string, unknown>))) as imagesV1.Lease,
    DeleteLease: async (req) => {
      leases.delete(req.id);
      return {};
    },
    ListLeases: async () => ({ leases: leases.list().map((l) => leaseToWire(l) as imagesV1.Lease) }),
  };

  const transferH: TransferH = {
    Pull: async (req, call, cctx: CallContext) => {
      const m: Moved = { perBlob: new Map(), skipped: new Set() };
      await moved.run(m, async () => {
        const platform = platformFromWire(req.platform);
        const credentials = pullCredentials(req.credentials, req.reference);
        const items = transfer.pullStream(req.reference, { ...(platform ? { platform } : {}), labels: { ...req.labels }, signal: cctx.signal, ...(credentials ? { credentials } : {}) });
        for await (const item of items) {
          if ('result' in item) {
            call.write({ image: recordToWire(item.result) });
            continue;
          }
          const p = item.progress;
          if (p.type === 'blob') noteBlob(m, p.digest, p.status, p.current);
          const w = pullProgressToWire(p);
          if (w && !call.write(w)) await once(call, 'drain');
        }
      });
    },
    ListTags: async (req) => ({ tags: await transfer.listTags(req.repository) }),
    Push: async (req, call) => {
      const m: Moved = { perBlob: new Map(), skipped: new Set() };
      await moved.run(m, async () => {
        for await (const item of transfer.pushStream(req.reference, req.remote || undefined)) {
          if ('result' in item) {
            call.write({ digest: item.result.digest });
            continue;
          }
          const p = item.progress;
          if (p.type === 'blob') noteBlob(m, p.digest, p.status, p.current);
          if (!call.write(pushProgressToWire(p))) await once(call, 'drain');
        }
      });
    },
    Login: async (req) => {
      await transfer.login(req.registry, req.username, req.password);
      return {};
    },
    Logout: async (req) => ({ removed: await transfer.logout(req.registry) }),
    Import: async (call) => {
      const { first, rest } = await splitFirst(call as AsyncIterable<imagesV1.ImportRequest__Output>);
      const rec = await transfer.import(dataReadable(first, rest), first?.reference ?? '', {
        ...(first?.message ? { message: first.message } : {}),
        labels: { ...first?.labels },
      });
      return recordToWire(rec);
    },
    Load: async (call) => {
      const { first, rest } = await splitFirst(call as AsyncIterable<imagesV1.LoadRequest__Output>);
      const platform = platformFromWire(first?.platform);
      const recs = await transfer.load(dataReadable(first, rest), {
        ...(first?.baseName ? { baseName: first.baseName } : {}),
        ...(platform ? { platform } : {}),
      });
      return { images: recs.map(recordToWire) };
    },
    Save: async (req, call, cctx) => {
      const format = req.format || 'docker';
      if (format !== 'oci' && format !== 'docker') {
        throw new InvalidArgumentError(`format: "${req.format}" is neither "oci" nor "docker"`, { field: 'format' });
      }
      if (req.references.length === 0) throw new InvalidArgumentError('references: name at least one image to save', { field: 'references' });
      const platform = platformFromWire(req.platform);
      const tar = await transfer.save(req.references, { format, ...(platform ? { platform } : {}) });
      const abort = () => tar.destroy();
      cctx.signal.addEventListener('abort', abort, { once: true });
      try {
        for await (const chunk of tar as AsyncIterable<Buffer>) await writeChunked(call, chunk, (data) => ({ data }));
      } finally {
        cctx.signal.removeEventListener('abort', abort);
        tar.destroy();
      }
    },
    EnsureBusybox: async (req) => recordToWire(await transfer.ensureBusyboxImage(req.reference ? { name: req.reference } : {})),
  };

  return { 'berth.images.v1.Images': imagesH, 'berth.images.v1.Content': contentH, 'berth.images.v1.Transfer': transferH };
}

const ACTIONS = {
  [ImageEvent.Pulled]: 'pulled',
  [ImageEvent.Pushed]: 'pushed',
  [ImageEvent.Imported]: 'imported',
  [ImageEvent.Loaded]: 'loaded',
  [ImageEvent.Saved]: 'saved',
  [ImageEvent.Tagged]: 'tagged',
  [ImageEvent.Untagged]: 'untagged',
  [ImageEvent.Committed]: 'committed',
  [ImageEvent.Deleted]: 'deleted',
} as const;

/** One attempt at busybox:latest: 'retry' when the layers service was not reachable. */
async function ensureBusyboxOnce(local: ImagesLocal, ctx: ServiceContext): Promise<'done' | 'retry'> {
  try {
    const rec = await local.transfer.ensureBusyboxImage();
    ctx.log.debug({ image: rec.name, digest: rec.target.digest }, 'busybox image present');
    return 'done';
  } catch (e) {
    if (isUnavailable(e)) {
      ctx.log.info({ err: (e as Error).message }, 'busybox image waits for the layers service; retrying in the background');
      return 'retry';
    }
    ctx.log.warn({ err: (e as Error).message }, 'could not create the busybox image; `berth run busybox` needs a pull or import first');
    return 'done';
  }
}

/** Retries ensureBusyboxOnce with backoff (0.5 s doubling to 30 s) until it is done or `stop` aborts. */
async function retryBusybox(local: ImagesLocal, ctx: ServiceContext, stop: AbortSignal): Promise<void> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 30_000)) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, delay);
      stop.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
    if (stop.aborted || (await ensureBusyboxOnce(local, ctx)) === 'done') return;
  }
}

export const imagesModule: ServiceModule = {
  name: 'images',
  grpcService: 'berth.images.v1.Images',
  async start(ctx): Promise<ImagesStarted> {
    const applier = new GrpcLayerApplier(() => ctx.addressesOf('layers'));
    const local = await ImagesLocal.open({ root: stateDir('images', ctx.paths), layerApplier: applier, metricsRegistry: ctx.registry });
    const moved = new AsyncLocalStorage<Moved>();
    const publish = (event: ImageEvent) => (p: ImageEventPayload) => {
      const action = ACTIONS[event];
      const m = action === 'pulled' || action === 'pushed' ? moved.getStore() : undefined;
      ctx.events.publish(subjects.imagesImage(action), { reference: p.name, digest: p.digest, action, bytes: m ? movedOf(m) : 0, imageId: p.imageId ?? '' }, p.name);
    };
    for (const event of Object.values(ImageEvent)) local.events.on(event, publish(event));

    // The first attempt is part of start (the image exists when the layers
    // service is up); only an unreachable layers service moves it to the background.
    const stop = new AbortController();
    const busyboxDone = (await ensureBusyboxOnce(local, ctx)) === 'retry' ? retryBusybox(local, ctx, stop.signal) : Promise.resolve();
    const handlers = imagesHandlers(local, moved);
    return {
      handlers: handlers['berth.images.v1.Images'],
      services: { 'berth.images.v1.Content': handlers['berth.images.v1.Content'], 'berth.images.v1.Transfer': handlers['berth.images.v1.Transfer'] },
      close: async () => {
        stop.abort();
        await busyboxDone;
        local.events.removeAllListeners();
        applier.close();
        local.close();
      },
    };
  },
};
