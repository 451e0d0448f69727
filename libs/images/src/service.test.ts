// The images service through real gRPC servers and clients, with the real
// layers service applying its layers and a real nats-server. State lives in
// berth-test-* temp dirs removed in finally.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import tar from 'tar-stream';
import { Registry } from 'prom-client';
import { runServices, type RunningStack } from '@berth/daemon';
import { isFailedPrecondition, isInvalidArgument, isNotFound, rejection } from '@berth/errors';
import { startNatsServer, subscribeEvents, type CloudEvent, type NatsServerHandle } from '@berth/events';
import {
  ServiceHost, createClient, createLogger, createRegistry, serviceAddresses, socketPath, tempPaths,
  type BerthClient, type EventSink, type TempPaths,
} from '@berth/kit';
import { layersModule } from '@berth/layers';
import type { imagesV1, layersV1 } from '@berth/proto';
import { imagesModule, type ImagesStarted } from './service.js';

type ImagesClient = BerthClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>;
type ContentClient = BerthClient<imagesV1.ContentDefinition, imagesV1.ContentHandlers>;
type TransferClient = BerthClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>;
type LayersClient = BerthClient<layersV1.LayersDefinition, layersV1.LayersHandlers>;


const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A small root filesystem tar: /etc/hello and /bin/. */
async function rootfsTar(): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const ended = once(pack, 'end');
  pack.entry({ name: 'bin/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  pack.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  pack.entry({ name: 'etc/hello', mode: 0o644, mtime: new Date(0) }, 'hello from a test rootfs\n');
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function drain<T>(stream: AsyncIterable<unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const m of stream) out.push(m as T);
  return out;
}

describe('images service over gRPC', () => {
  let nats: NatsServerHandle;
  let paths: TempPaths;
  let stack: RunningStack | undefined;
  const closers: (() => unknown)[] = [];

  beforeEach(async () => {
    nats = await startNatsServer();
    paths = tempPaths();
  });

  afterEach(async () => {
    try {
      for (const c of closers.splice(0).reverse()) await c();
      await stack?.stop();
      stack = undefined;
    } finally {
      await nats.stop();
      paths.cleanup();
    }
  });

  const layersClient = (): LayersClient => {
    const c = createClient<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', [`unix:${socketPath('layers', paths)}`]);
    closers.push(() => c.close());
    return c;
  };

  it('runs with the layers service: busybox exists after start, its layer is applied, bad references are InvalidArgument', async () => {
    stack = await runServices([layersModule, imagesModule], { paths, natsUrl: nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }), drainMs: 2000 });
    const c: ImagesClient = createClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', [`unix:${socketPath('images', paths)}`]);
    closers.push(() => c.close());

    const bb = await c.Get({ reference: 'busybox' });
    expect(bb).toMatchObject({ name: 'docker.io/library/busybox:latest', familiarName: 'busybox:latest', dangling: false });
    const inspect = await c.Inspect({ reference: 'busybox:latest' });
    expect(inspect.layers).toHaveLength(1);
    // One layer: its chain ID is its DiffID, and the layers service holds it committed.
    const info = await layersClient().Stat({ key: inspect.layers[0]!.diffId });
    expect(info.kind).toBe('SNAPSHOT_KIND_COMMITTED');
    expect(info.diffId).toBe(inspect.layers[0]!.diffId);

    for (const reference of ['Busybox:UPPER', 'a//b', 'busybox:tag with space']) {
      const err = await rejection(c.Get({ reference }));
      expect(isInvalidArgument(err), `${reference}: ${String(err)}`).toBe(true);
      expect((err as { cause: grpc.ServiceError }).cause.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    expect(isNotFound(await rejection(c.Get({ reference: 'nothere:1' })))).toBe(true);

    const metrics = await (await fetch(stack.hosts[1]!.info.metricsUrl!)).text();
    expect(metrics).toMatch(/^berth_images_store_bytes(\{[^}]*\})? [1-9]\d*$/m);
    expect(metrics).toContain('grpc_service="berth.images.v1.Images",grpc_method="Get"');
  }, 60_000);

  it('serves Content and Transfer beside Images: import, list, inspect, tag, save, write, read, remove, with events', async () => {
    stack = await runServices([layersModule], { paths, natsUrl: nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }), drainMs: 2000 });
    // The module started as runServices starts it, its three services each on a real server.
    const published: { subject: string; data: Record<string, unknown>; id: string | undefined }[] = [];
    const events: EventSink = { publish: (subject, data, id) => published.push({ subject, data: data as Record<string, unknown>, id }) };
    const started = (await imagesModule.start({
      paths, log: createLogger('images'), registry: new Registry(), events, addressesOf: (s) => serviceAddresses(s, {}, paths),
    })) as ImagesStarted;
    closers.push(() => started.close());
    const serve = async (name: string, service: string, handlers: unknown) => {
      const host = await ServiceHost.start({ name, service, handlers: handlers as never, paths, metrics: false, registry: createRegistry(name) });
      closers.push(() => host.stop(2000));
      return [`unix:${host.info.socket}`];
    };
    const c = createClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', await serve('images', 'berth.images.v1.Images', started.handlers));
    const content: ContentClient = createClient<imagesV1.ContentDefinition, imagesV1.ContentHandlers>('berth.images.v1.Content', await serve('images-content', 'berth.images.v1.Content', started.services['berth.images.v1.Content']));
    const transfer: TransferClient = createClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>('berth.images.v1.Transfer', await serve('images-transfer', 'berth.images.v1.Transfer', started.services['berth.images.v1.Transfer']));
    closers.push(() => [c, content, transfer].forEach((x) => x.close()));

    // Import: the first message names the image, the tar follows in pieces.
    const rootfs = await rootfsTar();
    const imp = transfer.Import();
    imp.stream.write({ reference: 'bt-test/app:1', message: 'from a test', labels: { team: 'bt' } });
    for (let i = 0; i < rootfs.length; i += 700) imp.stream.write({ data: rootfs.subarray(i, i + 700) });
    imp.stream.end();
    const img = await imp.response;
    expect(img).toMatchObject({ name: 'docker.io/bt-test/app:1', familiarName: 'bt-test/app:1', dangling: false, labels: { team: 'bt' } });
    expect(img.id).toMatch(/^sha256:[a-f0-9]{64}$/);

    const ins = await c.Inspect({ reference: 'bt-test/app:1' });
    expect(ins.layers).toHaveLength(1);
    expect(ins.layers[0]!.diffId).toBe(sha256(rootfs));
    expect(ins.history.at(-1)?.comment).toBe('from a test');
    expect(JSON.parse(ins.configJson.toString()).rootfs.diff_ids).toEqual([sha256(rootfs)]);
    // The layer went to the layers service through GrpcLayerApplier.
    expect((await layersClient().Stat({ key: sha256(rootfs) })).kind).toBe('SNAPSHOT_KIND_COMMITTED');

    const tagged = await c.Tag({ source: 'bt-test/app:1', target: 'bt-test/app:2' });
    expect(tagged.name).toBe('docker.io/bt-test/app:2');
    expect((await c.List({ reference: ['bt-test/*'] })).images.map((i) => i.familiarName).sort()).toEqual(['bt-test/app:1', 'bt-test/app:2']);
    expect((await c.List({ dangling: true })).images).toEqual([]);
    expect(isInvalidArgument(await rejection(c.Tag({ source: 'bt-test/app:1', target: 'BAD/Name' })))).toBe(true);

    // Save streams an OCI layout tar naming the image.
    const saved = Buffer.concat((await drain<imagesV1.SaveResponse__Output>(transfer.Save({ references: ['bt-test/app:1'], format: 'oci' }))).map((m) => m.data));
    const names: string[] = [];
    const ex = tar.extract();
    ex.on('entry', (h, s, next) => { names.push(h.name); s.resume(); s.on('end', next); });
    ex.end(saved);
    await once(ex, 'finish');
    expect(names).toContain('index.json');
    expect(names).toContain('oci-layout');
    expect(isInvalidArgument(await rejection(drain(transfer.Save({ references: ['bt-test/app:1'], format: 'zip' }))))).toBe(true);

    // Content: a resumable write in two streams, then read back from an offset.
    const blob = Buffer.from('x'.repeat(3000) + 'tail');
    const w1 = content.Write();
    w1.stream.write({ ref: 'bt-ref', expectedDigest: sha256(blob), expectedSize: blob.length, data: blob.subarray(0, 1000) });
    w1.stream.end();
    expect(await w1.response).toMatchObject({ offset: 1000, digest: '' });
    expect(await content.Status({ ref: 'bt-ref' })).toMatchObject({ ref: 'bt-ref', offset: 1000, expectedDigest: sha256(blob) });
    const w2 = content.Write();
    w2.stream.write({ ref: 'bt-ref', data: blob.subarray(1000) });
    w2.stream.write({ commit: true });
    w2.stream.end();
    expect(await w2.response).toMatchObject({ digest: sha256(blob), size: blob.length });
    expect(await content.Info({ digest: sha256(blob) })).toMatchObject({ digest: sha256(blob), size: blob.length });
    const read = await drain<imagesV1.ReadContentResponse__Output>(content.Read({ digest: sha256(blob), offset: 2998, length: 0 }));
    expect(read[0]!.offset).toBe(2998);
    expect(Buffer.concat(read.map((r) => r.data)).toString()).toBe('xxtail');
    // A wrong digest is DataLoss, and nothing of it is kept.
    const bad = content.Write();
    bad.stream.write({ ref: 'bt-bad', expectedDigest: sha256(Buffer.from('other')), data: Buffer.from('mine'), commit: true });
    bad.stream.end();
    expect(await rejection(bad.response)).toMatchObject({ code: 'DataLoss' });
    expect(isNotFound(await rejection(content.Status({ ref: 'bt-bad' })))).toBe(true);
    const lease = await content.CreateLease({ id: 'bt-lease', expiresInSeconds: 60, labels: {} });
    expect((await content.ListLeases({})).leases.map((l) => l.id)).toContain(lease.id);
    await content.DeleteLease({ id: 'bt-lease' });

    // Remove both names: the image goes, its blobs are collected.
    const r1 = await c.Remove({ reference: 'bt-test/app:2', force: false, noPrune: false });
    expect(r1.untagged).toEqual(['docker.io/bt-test/app:2']);
    const r2 = await c.Remove({ reference: 'bt-test/app:1', force: false, noPrune: false });
    expect(r2.deleted).toEqual([img.id]); // the image ID, as Docker's "Deleted:" line
    expect(r2.gc?.removed).toContain(ins.layers[0]!.descriptor!.digest);
    expect(isNotFound(await rejection(c.Get({ reference: 'bt-test/app:1' })))).toBe(true);

    // busybox was made at start; the events carry ImageEvent payloads.
    await expect(transfer.EnsureBusybox({ reference: '' })).resolves.toMatchObject({ familiarName: 'busybox:latest' });
    const mine = published.filter((p) => String(p.data['reference']).includes('bt-test'));
    expect(mine.map((p) => p.subject)).toEqual([
      'berth.images.image.imported', 'berth.images.image.tagged', 'berth.images.image.saved',
      'berth.images.image.untagged', 'berth.images.image.untagged', 'berth.images.image.deleted',
    ]);
    expect(mine.at(-1)).toMatchObject({ data: { action: 'deleted', imageId: img.id } });
    expect(mine[0]).toMatchObject({ id: 'docker.io/bt-test/app:1', data: { reference: 'docker.io/bt-test/app:1', digest: img.target!.digest, action: 'imported', bytes: 0 } });
    expect(published.some((p) => p.subject === 'berth.images.image.imported' && p.data['reference'] === 'docker.io/library/busybox:latest')).toBe(true);
    void isFailedPrecondition;
  }, 60_000);

  it('starts while the layers service is down and creates busybox once it is up; events reach NATS', async () => {
    stack = await runServices([imagesModule], { paths, natsUrl: nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }), drainMs: 2000 });
    const c = createClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', [`unix:${socketPath('images', paths)}`]);
    closers.push(() => c.close());
    expect(isNotFound(await rejection(c.Get({ reference: 'busybox' })))).toBe(true);
    const layers = await runServices([layersModule], { paths, natsUrl: nats.url, metrics: () => false, drainMs: 2000 });
    closers.push(() => layers.stop());
    let bb: imagesV1.Image__Output | undefined;
    for (let i = 0; i < 100 && !bb; i++) {
      bb = await c.Get({ reference: 'busybox' }).catch(() => undefined);
      if (!bb) await new Promise((r) => setTimeout(r, 200));
    }
    expect(bb?.familiarName).toBe('busybox:latest');

    const seen: CloudEvent[] = [];
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 5000);
    try {
      for await (const ev of subscribeEvents({ servers: nats.url, startSeq: 1, filter: 'berth.images.>', signal: ac.signal })) {
        seen.push(ev);
        break;
      }
    } finally {
      clearTimeout(timer);
    }
    expect(seen[0]).toMatchObject({
      type: 'io.berth.images.image.imported', subject: 'docker.io/library/busybox:latest',
      data: { reference: 'docker.io/library/busybox:latest', digest: bb!.target!.digest, action: 'imported', bytes: 0 },
    });
  }, 90_000);
});
