// Content store, leases, GC and image records, without any registry.
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlreadyExists, isDataLoss, isFailedPrecondition, isInvalidArgument, isNotFound, isUnavailable } from '@berth/errors';
import { chainIds, sha256Digest } from './digest.js';
import Database from 'better-sqlite3';
import { ImageEvent } from './events.js';
import { imageIdOf } from './image-store.js';
import { ImagesLocal } from './local.js';
import { MediaType } from './media-types.js';
import { UnpackLayerApplier } from './unpack-applier.js';

let work: string;
let local: ImagesLocal;
let applier: UnpackLayerApplier;

beforeEach(async () => {
  work = await fs.mkdtemp(join(tmpdir(), 'berth-images-store-'));
  applier = new UnpackLayerApplier(join(work, 'layers'));
  local = await ImagesLocal.open({ root: join(work, 'store'), layerApplier: applier, authConfigPath: join(work, 'auth.json') });
});
afterEach(async () => {
  local.close();
  await fs.rm(work, { recursive: true, force: true });
});

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

describe('content store', () => {
  it('commits verified blobs and streams them back from an offset', async () => {
    const data = bytes(100_000);
    const d = sha256Digest(data);
    const w = await local.content.openWriter({ ref: 'r1', expected: { digest: d, size: data.length } });
    await w.write(data.subarray(0, 50_000));
    // Not visible before commit.
    expect(await local.content.has(d)).toBe(false);
    expect((await local.content.status('r1')).offset).toBe(50_000);
    await w.write(data.subarray(50_000));
    expect(await w.commit()).toEqual({ digest: d, size: data.length });
    expect((await local.content.info(d)).size).toBe(data.length);
    const chunks: Buffer[] = [];
    for await (const c of await local.content.readStream(d, { offset: 99_990 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(data.subarray(99_990));
    expect(await local.content.listStatuses()).toEqual([]);
  });

  it('resumes a partial ingest by ref', async () => {
    const data = bytes(10_000, 3);
    const d = sha256Digest(data);
    const w1 = await local.content.openWriter({ ref: 'resume', expected: { digest: d, size: data.length } });
    await w1.write(data.subarray(0, 4_000));
    await w1.close();
    const w2 = await local.content.openWriter({ ref: 'resume', expected: { digest: d, size: data.length } });
    expect(w2.offset).toBe(4_000);
    await w2.write(data.subarray(4_000));
    await w2.commit();
    expect(await local.content.readBytes(d)).toEqual(data);
  });

  it('refuses a second writer on a locked ref', async () => {
    const w = await local.content.openWriter({ ref: 'locked' });
    const err = await local.content.openWriter({ ref: 'locked' }).catch((e: unknown) => e);
    expect(isUnavailable(err)).toBe(true);
    await w.abort();
  });

  it('raises DataLoss and discards the partial when bytes do not match', async () => {
    const data = bytes(1_000);
    const w = await local.content.openWriter({ ref: 'bad', expected: { digest: sha256Digest('something else'), size: data.length } });
    await w.write(data);
    const err = await w.commit().catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
    expect(await local.content.list()).toEqual([]);
    expect(isNotFound(await local.content.status('bad').catch((e: unknown) => e))).toBe(true);
    const w2 = await local.content.openWriter({ ref: 'long', expected: { size: 10 } });
    expect(isDataLoss(await w2.write(bytes(11)).catch((e: unknown) => e))).toBe(true);
    expect(await local.content.listStatuses()).toEqual([]);
  });

  it('deletes and lists blobs', async () => {
    const a = await local.content.writeBlob(Buffer.from('a'), { ref: 'a' });
    const b = await local.content.writeBlob(Buffer.from('b'), { ref: 'b' });
    expect((await local.content.list()).map((i) => i.digest).sort()).toEqual([a.digest, b.digest].sort());
    await local.content.delete(a.digest);
    expect(isNotFound(await local.content.info(a.digest).catch((e: unknown) => e))).toBe(true);
    expect(isNotFound(await local.content.delete(a.digest).catch((e: unknown) => e))).toBe(true);
  });
});

describe('garbage collection', () => {
  it('keeps blobs reachable from images and leases, removes the rest, never touches ingests in progress', async () => {
    const rec = await local.transfer.import(Readable.from([await tarOf({ f: 'x' })]), 'keep:1');
    const info = await local.images.inspect('keep:1');
    const kept = [rec.target.digest, info.config.rootfs ? info.manifest.config.digest : '', ...info.layers.map((l) => l.descriptor.digest)];
    const orphan = await local.content.writeBlob(Buffer.from('orphan'), { ref: 'orphan' });
    const lease = local.leases.create();
    const leased = await local.content.writeBlob(Buffer.from('leased'), { ref: 'leased', leaseId: lease.id });
    const w = await local.content.openWriter({ ref: 'in-progress' });
    await w.write(Buffer.from('partial'));

    const res = await local.images.gc();
    expect(res.removed).toEqual([orphan.digest]);
    const left = (await local.content.list()).map((i) => i.digest);
    for (const d of kept) expect(left).toContain(d);
    expect(left).toContain(leased.digest);
    expect((await local.content.status('in-progress')).offset).toBe(7);
    await w.close();

    // Lease gone: its blob goes on the next sweep; the image's stay.
    local.leases.delete(lease.id);
    expect((await local.images.gc()).removed).toEqual([leased.digest]);
    // Image removed: everything goes.
    await local.images.remove('keep:1');
    expect(await local.content.list()).toEqual([]);
  });

  it('removes abandoned ingests after their age limit, never one being written or leased', async () => {
    const abandoned = await local.content.openWriter({ ref: 'abandoned' });
    await abandoned.write(Buffer.from('half'));
    await abandoned.close();
    const lease = local.leases.create();
    const leased = await local.content.openWriter({ ref: 'leased-ingest', leaseId: lease.id });
    await leased.close();
    const live = await local.content.openWriter({ ref: 'live' });
    await live.write(Buffer.from('x'));
    expect((await local.images.gc()).ingestsRemoved).toEqual([]);
    const res = await local.images.gc({ ingestMaxAgeMs: 0 });
    expect(res.ingestsRemoved).toEqual(['abandoned']);
    expect((await local.content.listStatuses()).map((s) => s.ref).sort()).toEqual(['leased-ingest', 'live']);
    await live.abort();
    // An expired lease stops protecting its ingest.
    local.leases.delete(lease.id);
    expect((await local.images.gc({ ingestMaxAgeMs: 0 })).ingestsRemoved).toEqual(['leased-ingest']);
    const short = local.leases.create({ expiresInMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    expect((await local.images.gc()).expiredLeases).toBe(1);
    expect(local.leases.list().map((l) => l.id)).not.toContain(short.id);
  });

  it('does not collect a blob committed while the sweep runs', async () => {
    const lease = local.leases.create();
    const blobs = Array.from({ length: 30 }, (_, i) => Buffer.from(`blob-${i}`));
    const writes = Promise.all(blobs.map((b, i) => local.content.writeBlob(b, { ref: `w${i}`, leaseId: lease.id })));
    const sweeps = Promise.all([local.images.gc(), local.images.gc(), local.images.gc()]);
    const [written] = await Promise.all([writes, sweeps]);
    for (const w of written) expect(await local.content.has(w.digest)).toBe(true);
  });
});

describe('state file modes', () => {
  it('keeps meta.db and its -wal/-shm 0600, and tightens ones an older berth left 0644', async () => {
    await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'app:1', { labels: { tier: 'web' } });
    const db = join(work, 'store', 'meta.db');
    const files = [db, `${db}-wal`, `${db}-shm`];
    const modeOf = async (p: string) => (await fs.stat(p)).mode & 0o7777;
    for (const p of files) expect(await modeOf(p), p).toBe(0o600);
    local.close();
    for (const p of files) await fs.chmod(p, 0o644).catch(() => undefined);
    local = await ImagesLocal.open({
      root: join(work, 'store'), layerApplier: new UnpackLayerApplier(join(work, 'layers')), authConfigPath: join(work, 'auth.json'),
    });
    for (const p of files) {
      const m = await modeOf(p).catch(() => undefined);
      if (m !== undefined) expect(m, p).toBe(0o600);
    }
    expect(await modeOf(db)).toBe(0o600);
  });
});

describe('image records', () => {
  it('tags, lists with filters, untags, and keeps a moved tag\'s old image as dangling', async () => {
    const tagged: string[] = [];
    local.events.on(ImageEvent.Tagged, (e) => tagged.push(e.name));
    const one = await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'app:1', { labels: { tier: 'web' } });
    await new Promise((r) => setTimeout(r, 5));
    const two = await local.transfer.import(Readable.from([await tarOf({ a: '2' })]), 'tools/helper', { labels: { tier: 'ops' } });
    local.images.tag('app:1', 'example.com/app:prod');
    expect(tagged).toEqual(['example.com/app:prod']);
    expect(local.images.list().map((i) => i.familiarName).sort()).toEqual(['app:1', 'example.com/app:prod', 'tools/helper:latest']);
    expect(local.images.list({ reference: ['app'] }).map((i) => i.familiarName)).toEqual(['app:1']);
    expect(local.images.list({ reference: ['*/app:*'] }).map((i) => i.familiarName)).toEqual(['example.com/app:prod']);
    expect(local.images.list({ label: ['tier=ops'] }).map((i) => i.name)).toEqual(['docker.io/tools/helper:latest']);
    expect(local.images.list({ label: ['tier'] })).toHaveLength(3);
    expect(local.images.list({ since: 'app:1' }).map((i) => i.familiarName)).toEqual(['tools/helper:latest']);
    expect(local.images.list({ before: 'tools/helper' }).map((i) => i.familiarName).sort()).toEqual(['app:1', 'example.com/app:prod']);

    // Moving app:1 to another image leaves the first one reachable through example.com/app:prod.
    local.images.tag('tools/helper', 'app:1');
    expect(local.images.list({ dangling: true })).toEqual([]);
    // Moving the last name of an image leaves it dangling.
    local.images.tag('tools/helper', 'example.com/app:prod');
    const dangling = local.images.list({ dangling: true });
    expect(dangling.map((d) => d.target.digest)).toEqual([one.target.digest]);
    expect(dangling[0]!.familiarName).toBe('<none>:<none>');
    // Reachable by ID prefix.
    expect(local.images.get(one.configDigest!.slice(7, 19)).target.digest).toBe(one.target.digest);
    expect(local.images.get(`app@${two.target.digest}`).target.digest).toBe(two.target.digest);

    local.images.untag('app:1');
    expect(isNotFound(await local.images.inspect('app:1').catch((e: unknown) => e))).toBe(true);
    const pruned = await local.images.prune();
    expect(pruned.deleted).toEqual([one.configDigest]);
  });

  it('refuses rmi of the last name of an image a container\'s lease holds with Docker\'s conflict; -f untags and keeps it; prune skips it until the lease goes', async () => {
    const rec = await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'busy:1');
    const blobs = (await local.content.list()).map((b) => b.digest).sort();
    const cid = 'c0ffee'.padEnd(64, '0');
    const lease = local.images.createLease({ id: `container-${cid}`, expiresInMs: null, labels: { container: cid }, resources: [{ kind: 'image', key: 'busy:1' }] });
    expect(lease.expiresAt).toBeUndefined();
    expect(isAlreadyExists(await Promise.resolve().then(() => local.images.createLease({ id: lease.id })).catch((e: unknown) => e))).toBe(true);
    expect(isNotFound(await Promise.resolve().then(() => local.images.createLease({ resources: [{ kind: 'image', key: 'nosuch:1' }] })).catch((e: unknown) => e))).toBe(true);

    const err = (await local.images.remove('busy:1').catch((e: unknown) => e)) as Error;
    expect(isFailedPrecondition(err)).toBe(true);
    expect(err.message).toBe(`conflict: unable to remove repository reference "busy:1" (must force) - container c0ffee000000 is using its referenced image ${rec.configDigest!.slice(7, 19)}`);
    const byId = (await local.images.remove(rec.configDigest!.slice(7, 19)).catch((e: unknown) => e)) as Error;
    expect(byId.message).toBe(`conflict: unable to delete ${rec.configDigest!.slice(7, 19)} (must be forced) - image is being used by container c0ffee000000`);
    // Another name for the same image can go: the image stays.
    local.images.tag('busy:1', 'busy:alias');
    expect(await local.images.remove('busy:alias')).toMatchObject({ untagged: ['docker.io/library/busy:alias'], deleted: [] });

    // -f untags; the image stays, dangling, with all its blobs, for the container.
    expect(await local.images.remove('busy:1', { force: true })).toMatchObject({ untagged: ['docker.io/library/busy:1'], deleted: [] });
    expect(local.images.list().map((i) => [i.familiarName, i.target.digest])).toEqual([['<none>:<none>', rec.target.digest]]);
    expect((await local.images.gc()).removed).toEqual([]);
    expect((await local.images.prune()).deleted).toEqual([]);
    expect((await local.content.list()).map((b) => b.digest).sort()).toEqual(blobs);

    // The container is removed: its lease goes, and prune takes the image.
    local.leases.delete(lease.id);
    expect((await local.images.prune()).deleted).toEqual([rec.configDigest]);
    expect(await local.content.list()).toEqual([]);
  });

  it('one image, many names: the same config under two manifests is one image (one ID); rmi of a name untags, rmi of the ID needs -f', async () => {
    const one = await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'app:1');
    const id = one.configDigest!;
    // A second manifest of the same config, as a registry pull after a local load gives: save as a
    // docker-archive and load it back under another name (load takes the archive's OCI manifest).
    local.images.tag('app:1', 'copy:1');
    const chunks: Buffer[] = [];
    for await (const c of await local.transfer.save(['copy:1'], { format: 'docker' })) chunks.push(c as Buffer);
    await local.transfer.load(Readable.from([Buffer.concat(chunks)]));
    const copy = local.images.get('copy:1');
    expect(copy.target.digest).not.toBe(one.target.digest);
    expect(copy.configDigest).toBe(id);

    // One row per name, the same ID, no dangling record for the manifest app:1 no longer shares.
    expect(local.images.list().map((i) => [i.familiarName, i.id])).toEqual([['app:1', id], ['copy:1', id]]);
    expect(local.images.list({ dangling: true })).toEqual([]);
    // The ID and its prefixes name the image: not ambiguous (what `run` hit when the engine held the image by ID).
    expect(imageIdOf(local.images.get(id))).toBe(id);
    expect(imageIdOf(local.images.get(id.slice(7, 19)))).toBe(id);
    const lease = local.images.createLease({ expiresInMs: null, labels: { container: 'c1' }, resources: [{ kind: 'image', key: id }] });
    local.leases.delete(lease.id);
    const ins = await local.images.inspect(id);
    expect(ins.repoTags.sort()).toEqual(['app:1', 'copy:1']);
    expect(ins.repoDigests.sort()).toEqual([`app@${one.target.digest}`, `copy@${copy.target.digest}`].sort());

    // rmi by ID with two names: Docker's conflict unless forced.
    const err = (await local.images.remove(id.slice(7, 19)).catch((e: unknown) => e)) as Error;
    expect(isFailedPrecondition(err)).toBe(true);
    expect(err.message).toBe(`conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    // rmi of one name untags it; the image stays under the other.
    expect(await local.images.remove('copy:1')).toMatchObject({ untagged: ['docker.io/library/copy:1'], deleted: [] });
    expect(local.images.list().map((i) => i.familiarName)).toEqual(['app:1']);
    // rmi -f of the ID removes every name and the image.
    local.images.tag('app:1', 'copy:2');
    const gone = await local.images.remove(id, { force: true });
    expect(gone.untagged.sort()).toEqual(['docker.io/library/app:1', 'docker.io/library/copy:2']);
    expect(gone.deleted).toEqual([id]);
    expect(local.images.list()).toEqual([]);
    expect(await local.content.list()).toEqual([]);
  });

  it('migrates a store whose dangling records were kept per manifest: one per image, none beside a name', async () => {
    const named = await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'app:1');
    const orphan = await local.transfer.import(Readable.from([await tarOf({ a: '2' })]), 'orphan:1');
    local.close();
    // Rows as the old store wrote them: a dangling record beside a name of the same image, and two for one nameless image.
    const db = new Database(join(work, 'store', 'meta.db'));
    const target = (d: string) => JSON.stringify({ mediaType: MediaType.OciManifest, digest: d, size: 1 });
    const put = db.prepare('INSERT INTO images (name, media_type, digest, size, target_json, config_digest, labels, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, \'{}\', 1, 1)');
    const fake = (n: number) => `sha256:${String(n).repeat(64)}`;
    put.run(`<none>@${fake(1)}`, MediaType.OciManifest, fake(1), target(fake(1)), named.configDigest);
    db.prepare('DELETE FROM images WHERE name = ?').run('docker.io/library/orphan:1');
    put.run(`<none>@${fake(2)}`, MediaType.OciManifest, fake(2), target(fake(2)), orphan.configDigest);
    put.run(`<none>@${orphan.target.digest}`, MediaType.OciManifest, orphan.target.digest, JSON.stringify(orphan.target), orphan.configDigest);
    db.pragma('user_version = 0');
    db.close();

    local = await ImagesLocal.open({ root: join(work, 'store'), layerApplier: new UnpackLayerApplier(join(work, 'layers')), authConfigPath: join(work, 'auth.json') });
    expect(local.images.list().map((i) => [i.familiarName, i.id]).sort()).toEqual([['<none>:<none>', orphan.configDigest], ['app:1', named.configDigest]]);
    expect(local.images.list({ dangling: true }).map((i) => i.name)).toEqual([`<none>@${orphan.configDigest}`]);
    expect(imageIdOf(local.images.get(orphan.configDigest!.slice(7, 19)))).toBe(orphan.configDigest);
  });

  it('untagging the last name of a held image keeps it dangling; without a holder the record goes', async () => {
    const held = await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'held:1');
    const free = await local.transfer.import(Readable.from([await tarOf({ a: '2' })]), 'free:1');
    local.images.createLease({ expiresInMs: null, labels: { container: 'c1' }, resources: [{ kind: 'image', key: held.configDigest! }] });
    local.images.untag('held:1');
    local.images.untag('free:1');
    expect(local.images.list().map((i) => i.target.digest)).toEqual([held.target.digest]);
    expect(local.images.list()[0]!.dangling).toBe(true);
    expect(local.images.list().map((i) => i.target.digest)).not.toContain(free.target.digest);
  });

  it('rejects invalid references naming them', async () => {
    const err = (await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'Bad/Name:x').catch((e: unknown) => e)) as Error;
    expect(isInvalidArgument(err)).toBe(true);
    expect(err.message).toContain('"Bad/Name:x"');
    expect(() => local.images.get('UPPER')).toThrow(/"UPPER"/);
    expect(isAlreadyExists(await Promise.resolve().then(() => local.images.store.create({ name: 'x', target: { mediaType: 'a', digest: 'sha256:0', size: 1 }, configDigest: undefined, labels: {} })).then(() => local.images.store.create({ name: 'x', target: { mediaType: 'a', digest: 'sha256:0', size: 1 }, configDigest: undefined, labels: {} })).catch((e: unknown) => e))).toBe(true);
  });
});

describe('commit', () => {
  it('makes an image of the parent\'s layers plus the new one, with the new config and one more history entry', async () => {
    const committed: string[] = [];
    local.events.on(ImageEvent.Committed, (e) => committed.push(e.name));
    await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'base:1');
    const parent = await local.images.inspect('base:1');
    const tar = await tarOf({ b: '2' });
    const layer = await local.content.writeBlob(tar, { ref: 'diff' });
    const rec = await local.images.commit({
      parent: 'base:1', layer: { descriptor: { mediaType: MediaType.OciLayer, ...layer }, diffId: sha256Digest(tar) },
      config: { Cmd: ['/bin/sh', '-c', 'echo hi'], Env: ['A=1'] }, author: 'ann', comment: 'snapshot', createdBy: 'berth commit 0123456789ab', reference: 'app:snap',
    });
    expect(rec.name).toBe('docker.io/library/app:snap');
    expect(committed).toEqual(['docker.io/library/app:snap']);
    const img = await local.images.inspect('app:snap');
    expect(img.layers.map((l) => l.descriptor.digest)).toEqual([...parent.layers.map((l) => l.descriptor.digest), layer.digest]);
    expect(img.config.rootfs.diff_ids).toEqual([...parent.config.rootfs.diff_ids, sha256Digest(tar)]);
    expect(img.config.config).toEqual({ ...parent.config.config, Cmd: ['/bin/sh', '-c', 'echo hi'], Env: ['A=1'] });
    expect(img.config.author).toBe('ann');
    expect(img.history.slice(-1)).toEqual([expect.objectContaining({ author: 'ann', comment: 'snapshot', created_by: 'berth commit 0123456789ab' })]);
    expect(img.history).toHaveLength((parent.history.length) + 1);
    // The new layer is in place on the parent's chain: the image can run.
    expect(await applier.hasLayer(chainIds(img.config.rootfs.diff_ids).at(-1)!)).toBe(true);
    // The record roots everything: a collection keeps the new layer and documents.
    expect((await local.images.gc()).removed).toEqual([]);
    // Without a name the result is dangling; without a layer the history says so.
    const bare = await local.images.commit({ parent: 'app:snap', config: {} });
    expect(local.images.list({ dangling: true }).map((i) => i.target.digest)).toEqual([bare.target.digest]);
    expect((await local.images.inspect(bare.target.digest)).history.slice(-1)[0]!.empty_layer).toBe(true);
  });

  it('refuses a layer that is not in the content store and leaves nothing behind', async () => {
    await local.transfer.import(Readable.from([await tarOf({ a: '1' })]), 'base:1');
    const before = (await local.content.list()).map((b) => b.digest).sort();
    const err = (await local.images.commit({
      parent: 'base:1', layer: { descriptor: { mediaType: MediaType.OciLayer, digest: sha256Digest('absent'), size: 6 }, diffId: sha256Digest('absent') }, config: {}, reference: 'app:x',
    }).catch((e: unknown) => e)) as Error;
    expect(isFailedPrecondition(err)).toBe(true);
    expect(err.message).toContain(sha256Digest('absent'));
    expect(local.images.list().map((i) => i.familiarName)).toEqual(['base:1']);
    expect((await local.content.list()).map((b) => b.digest).sort()).toEqual(before);
    expect(local.leases.list()).toEqual([]);
    expect(isNotFound(await local.images.commit({ parent: 'nosuch:1', config: {} }).catch((e: unknown) => e))).toBe(true);
  });
});

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const { pack } = await import('tar-stream');
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: 0o644 }, content);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
