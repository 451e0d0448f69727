// The layers service through its real gRPC server and client (root: overlay
// mounts), with a real nats-server. The store lives in a berth-test-* temp
// dir; anything mounted under it is detached in cleanup.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { umount, MNT } from '@berth/sys';
import { runServices, type RunningStack } from '@berth/daemon';
import { isFailedPrecondition, isInvalidArgument, type BerthError, rejection } from '@berth/errors';
import { waitForEventsStream, startNatsServer, type NatsServerHandle } from '@berth/events';
import { createClient, tempPaths, checkPrometheusText, type BerthClient, type TempPaths } from '@berth/kit';
import type { layersV1 } from '@berth/proto';
import { layersModule, MediaType } from './index';
import { mountsUnder } from './mountinfo';
import { layerTar, sha256 } from './testing/tars';
import { tarNames } from './testing/suite';

type Client = BerthClient<layersV1.LayersDefinition, layersV1.LayersHandlers>;



/** Sends `blob` in `chunk`-byte data messages after the header. */
function apply(c: Client, blob: Buffer, header: layersV1.ApplyLayerHeader, chunk = 1000): Promise<layersV1.ApplyLayerResponse__Output> {
  const { stream, response } = c.ApplyLayer();
  stream.write({ header });
  for (let i = 0; i < blob.length; i += chunk) stream.write({ data: blob.subarray(i, i + chunk) });
  stream.end();
  return response;
}

/** Reads a Diff stream: the data bytes and the final result, checking the result comes last and once. */
async function diff(c: Client, req: layersV1.DiffRequest): Promise<{ blob: Buffer; result: layersV1.DiffResult__Output }> {
  const parts: Buffer[] = [];
  let result: layersV1.DiffResult__Output | undefined;
  for await (const m of c.Diff(req) as AsyncIterable<layersV1.DiffResponse__Output>) {
    expect(result).toBeUndefined();
    if (m.part === 'data') parts.push(m.data!);
    else result = m.result!;
  }
  expect(result).toBeDefined();
  return { blob: Buffer.concat(parts), result: result! };
}

describe('layers service over gRPC', () => {
  let nats: NatsServerHandle | undefined;
  let paths: TempPaths | undefined;
  let stack: RunningStack | undefined;
  let client: Client | undefined;
  let c: Client;
  let metricsUrl: string;
  let storeRoot: string;

  beforeEach(async () => {
    nats = await startNatsServer();
    paths = tempPaths();
    storeRoot = join(paths.root, 'layers');
    stack = await runServices([layersModule], { paths, natsUrl: nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }), drainMs: 2000 });
    const info = stack.hosts[0]!.info;
    metricsUrl = info.metricsUrl!;
    client = createClient<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', [`unix:${info.socket}`], { timeoutMs: 20_000 });
    c = client;
  });
  afterEach(async () => {
    client?.close();
    try {
      if (stack && nats) await waitForEventsStream(nats.url).catch(() => undefined);
      await stack?.stop();
    } finally {
      await nats?.stop();
      if (paths) {
        for (const mp of mountsUnder(join(paths.root, '..'))) {
          try { umount(mp, MNT.DETACH); } catch { /* gone */ }
        }
        paths.cleanup();
      }
      client = undefined;
      stack = undefined;
      nats = undefined;
      paths = undefined;
    }
  });

  it('applies a streamed layer, prepares and mounts a root, diffs it, re-applies the diff, removes and collects', async () => {
    const info = await c.Info({});
    expect(['overlay', 'copy']).toContain(info.driver);
    expect(info.root).toBe(storeRoot);

    const base = layerTar([{ name: 'etc/' }, { name: 'etc/hello', content: 'hello from the base\n' }, { name: 'big', content: 'b'.repeat(50_000) }]);
    const applied = await apply(c, base, { mediaType: MediaType.OciLayer, expectedDiffId: sha256(base), labels: { from: 'test' } }, 777);
    // A base layer's chain ID is its DiffID.
    expect(applied).toMatchObject({ chainId: sha256(base), diffId: sha256(base), size: base.length, existed: false });
    const again = await apply(c, base, { mediaType: MediaType.OciLayer, expectedDiffId: sha256(base) });
    expect(again).toMatchObject({ chainId: applied.chainId, existed: true });
    const stat = await c.Stat({ key: applied.chainId });
    expect(stat).toMatchObject({ key: applied.chainId, kind: 'SNAPSHOT_KIND_COMMITTED', parent: '', diffId: applied.diffId, size: base.length, labels: { from: 'test' } });
    expect(stat.createdAt!.seconds).toBeGreaterThan(1_700_000_000);

    const prepared = await c.Prepare({ key: 'c1', parent: applied.chainId, labels: { container: 'c1' } });
    expect(prepared.mounts.length).toBe(1);
    expect(prepared.mounts[0]!.destination).toBe('');
    expect(['overlay', 'bind']).toContain(prepared.mounts[0]!.type);
    expect((await c.Mounts({ key: 'c1' })).mounts).toEqual(prepared.mounts);

    const { target } = await c.Mount({ key: 'c1', target: '' });
    expect(target.startsWith(`${storeRoot}/`)).toBe(true);
    expect(readFileSync(join(target, 'etc/hello'), 'utf8')).toBe('hello from the base\n');
    writeFileSync(join(target, 'new.txt'), 'written in the container\n');
    // Removing or committing a mounted snapshot is refused.
    expect(isFailedPrecondition(await rejection(c.Remove({ key: 'c1' })))).toBe(true);
    await c.Unmount({ key: 'c1' });
    expect((await c.Usage({ key: 'c1' })).inodes).toBeGreaterThan(0);

    // Diff: the change only, data then the result; digests match the bytes.
    const plain = await diff(c, { key: 'c1' });
    // The root directory's own entry comes along (its mtime changed with the new file).
    expect((await tarNames(plain.blob)).filter((n) => n !== '.')).toEqual(['new.txt']);
    expect(plain.result).toMatchObject({ diffId: sha256(plain.blob), digest: sha256(plain.blob), size: plain.blob.length, compressedSize: plain.blob.length, mediaType: MediaType.OciLayer });
    const zipped = await diff(c, { key: 'c1', gzip: true });
    expect(zipped.result).toMatchObject({ diffId: plain.result.diffId, digest: sha256(zipped.blob), compressedSize: zipped.blob.length, mediaType: MediaType.OciLayerGzip });

    // The gzipped diff goes back in as a layer on the base and shows the file.
    const top = await apply(c, zipped.blob, { mediaType: MediaType.OciLayerGzip, expectedDiffId: plain.result.diffId, parentChainId: applied.chainId }, 4096);
    expect(top).toMatchObject({ diffId: plain.result.diffId, existed: false });
    await c.View({ key: 'v1', parent: top.chainId });
    const view = await c.Mount({ key: 'v1', target: '' });
    expect(readFileSync(join(view.target, 'new.txt'), 'utf8')).toBe('written in the container\n');
    expect(readFileSync(join(view.target, 'etc/hello'), 'utf8')).toBe('hello from the base\n');
    await c.Unmount({ key: 'v1' });

    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/berth_layers_snapshots\{kind="committed"[^}]*\} 2\n/);
    expect(text).toMatch(/berth_layers_snapshots\{kind="active"[^}]*\} 1\n/);
    expect(text).toMatch(/berth_layers_snapshots\{kind="view"[^}]*\} 1\n/);
    expect(text).toMatch(new RegExp(`berth_layers_committed_bytes(\\{[^}]*\\})? ${base.length + plain.result.size}\\n`));
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="ApplyLayer"[^}]*grpc_code="OK"[^}]*\} 3/);
    expect(() => checkPrometheusText(text)).not.toThrow();

    // The base has children: refused, naming them.
    const refused = await rejection(c.Remove({ key: applied.chainId }));
    expect(isFailedPrecondition(refused)).toBe(true);
    expect(refused.message).toContain(top.chainId);
    await c.Remove({ key: 'c1' });
    // GC keeping the view keeps its chain; then nothing referenced removes all.
    expect((await c.GarbageCollect({ referencedSnapshotKeys: ['v1'] })).removed).toEqual([]);
    expect((await c.GarbageCollect({})).removed).toEqual(['v1', top.chainId, applied.chainId]);
    expect((await c.List({})).snapshots).toEqual([]);
    expect(readdirSync(join(storeRoot, 'snapshots'))).toEqual([]);
  });

  it('refuses a bad tar, a missing header and a cancelled stream with typed errors, keeping nothing', async () => {
    const evil = layerTar([{ name: 'ok/' }, { name: 'ok/../../../evil', content: 'x' }]);
    const bad = await rejection(apply(c, evil, { mediaType: MediaType.OciLayer }));
    expect(isInvalidArgument(bad)).toBe(true);
    expect(bad.field).toBe('ok/../../../evil');

    const badType = await rejection(apply(c, evil, { mediaType: 'application/x-rar' }));
    expect(isInvalidArgument(badType)).toBe(true);
    expect(badType.field).toBe('mediaType');

    const { stream, response } = c.ApplyLayer();
    stream.write({ data: Buffer.from('no header first') });
    stream.end();
    const noHeader = await rejection(response);
    expect(isInvalidArgument(noHeader)).toBe(true);
    expect(noHeader.field).toBe('header');

    const twice = c.ApplyLayer();
    twice.stream.write({ header: { mediaType: MediaType.OciLayer } });
    twice.stream.write({ data: evil.subarray(0, 512) });
    twice.stream.write({ header: { mediaType: MediaType.OciLayer } });
    twice.stream.end();
    const dup = await rejection(twice.response);
    expect(isInvalidArgument(dup)).toBe(true);
    expect(dup.field).toBe('header');

    // Half a layer, then the client goes away: the staging dir is cleaned up.
    const big = layerTar([{ name: 'f', content: 'x'.repeat(3_000_000) }]);
    const cancelled = c.ApplyLayer();
    cancelled.stream.write({ header: { mediaType: MediaType.OciLayer, expectedDiffId: sha256(big) } });
    cancelled.stream.write({ data: big.subarray(0, 1_000_000) });
    await new Promise((r) => setTimeout(r, 200));
    expect(readdirSync(join(storeRoot, 'tmp')).length).toBe(1);
    cancelled.stream.cancel();
    await rejection(cancelled.response);
    const deadline = Date.now() + 5000;
    while (readdirSync(join(storeRoot, 'tmp')).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(join(storeRoot, 'tmp'))).toEqual([]);
    expect(readdirSync(join(storeRoot, 'snapshots'))).toEqual([]);
    expect((await c.List({})).snapshots).toEqual([]);
    expect(existsSync(join(storeRoot, '..', 'evil'))).toBe(false);

    // The service still works afterwards, and the same layer applies whole.
    const ok = await apply(c, big, { mediaType: MediaType.OciLayer, expectedDiffId: sha256(big) }, 1 << 20);
    expect(ok).toMatchObject({ chainId: sha256(big), existed: false });
  });
});
