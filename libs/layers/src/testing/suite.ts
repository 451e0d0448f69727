// The conformance suite every SnapshotDriver runs (containerd's
// testsuite.SnapshotterSuite, for berth): real mounts, real layer tars built
// in code, each store in its own /tmp/berth-layers-* dir, everything
// unmounted and removed after each test even when it fails.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, unlinkSync, mkdirSync, chmodSync, lstatSync, rmdirSync, renameSync, statSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tarStream from 'tar-stream';
import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { mount, umount, MNT, lgetxattr } from '@berth/sys';
import { LayerStore } from '../store';
import type { DriverName } from '../driver';
import { mountsUnder } from '../mountinfo';
import { chainIds } from '../digest';
import { MediaType } from '../mediatypes';
import { layerTar, richBase, sha256, gzip, zstd, streamOf, CAP_NET_BIND_SERVICE, type TestEntry } from './tars';
import { describeTree } from './tree';

const TAR = MediaType.OciLayer;

/** Store root + cleanup shared by the suite and other layer tests. */
export class StoreFixture {
  dir = '';
  store: LayerStore | null = null;

  open(driver: DriverName): LayerStore {
    this.dir = mkdtempSync(join(tmpdir(), 'berth-layers-'));
    this.store = LayerStore.open({ root: `${this.dir}/root`, driver });
    return this.store;
  }

  reopen(driver: DriverName): LayerStore {
    this.store?.close();
    this.store = LayerStore.open({ root: `${this.dir}/root`, driver });
    return this.store;
  }

  cleanup(): void {
    try { this.store?.close(); } catch { /* closed */ }
    this.store = null;
    if (!this.dir) return;
    for (const mp of mountsUnder(this.dir)) {
      try { umount(mp, MNT.DETACH); } catch { /* gone */ }
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = '';
  }
}

/** Applies tars in order; returns their chain IDs. */
export async function applyAll(store: LayerStore, tars: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  let parent: string | undefined;
  for (const t of tars) {
    const r = await store.applyLayer(streamOf(t), { mediaType: TAR, expectedDiffId: sha256(t), parentChainId: parent });
    out.push(r.chainId);
    parent = r.chainId;
  }
  return out;
}

/** The tree of snapshot `key` as mounted; unmounts again. */
export function treeOf(store: LayerStore, key: string): Record<string, string> {
  const t = store.mount(key);
  try { return describeTree(t); } finally { store.unmount(key); }
}

function storeDirsSnapshot(store: LayerStore): { snapshots: string[]; tmp: string[]; rows: string[] } {
  return {
    snapshots: readdirSync(`${store.root}/snapshots`).sort(),
    tmp: readdirSync(`${store.root}/tmp`),
    rows: store.list().map((s) => s.key).sort(),
  };
}

function pack(entries: Array<{ header: Partial<tarStream.Header>; content?: string }>): Promise<Buffer> {
  const p = tarStream.pack();
  for (const e of entries) p.entry(e.header as tarStream.Header, e.content ?? '');
  p.finalize();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    p.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
}

export function runSnapshotDriverSuite(driver: DriverName): void {
  describe(`snapshot driver conformance: ${driver}`, () => {
    const fx = new StoreFixture();
    let store: LayerStore;
    beforeEach(() => { store = fx.open(driver); });
    afterEach(() => fx.cleanup());

    it('applies a layer with every entry type and metadata kind', async () => {
      const base = layerTar(richBase());
      const r = await store.applyLayer(streamOf(base), { mediaType: TAR, expectedDiffId: sha256(base) });
      expect(r).toMatchObject({ chainId: sha256(base), diffId: sha256(base), size: base.length, existed: false });
      expect(store.driverName).toBe(driver);
      store.view('v', r.chainId);
      const t = store.mount('v');
      try {
        const ping = lstatSync(`${t}/bin/ping`);
        expect(ping.mode & 0o7777).toBe(0o4755);
        expect(lgetxattr(`${t}/bin/ping`, 'security.capability')).toEqual(CAP_NET_BIND_SERVICE);
        expect(lstatSync(`${t}/bin/ash`).ino).toBe(lstatSync(`${t}/bin/sh`).ino);
        expect(lstatSync(`${t}/bin/sh`).nlink).toBe(2);
        expect(lstatSync(`${t}/tmp`).mode & 0o7777).toBe(0o1777);
        expect(lstatSync(`${t}/srv`).mode & 0o7777).toBe(0o2775);
        expect(lstatSync(`${t}/srv`).uid).toBe(33);
        const conf = lstatSync(`${t}/etc/app.conf`, { bigint: true });
        expect([conf.uid, conf.gid, conf.mtimeNs]).toEqual([1000n, 1000n, 1_700_000_000_123_456_789n]);
        expect(lgetxattr(`${t}/etc/app.conf`, 'user.origin')?.toString()).toBe('test');
        expect(lstatSync(`${t}/etc/shadow`).gid).toBe(42);
        const lt = lstatSync(`${t}/etc/localtime`);
        expect(lt.isSymbolicLink() && lt.uid === 7 && lt.gid === 8).toBe(true);
        expect(lstatSync(`${t}/dev/null`).isCharacterDevice()).toBe(true);
        expect(lstatSync(`${t}/dev/loop9`).isBlockDevice()).toBe(true);
        expect(lstatSync(`${t}/run/fifo`).isFIFO()).toBe(true);
        // Dir times are set after their contents.
        expect(lstatSync(`${t}/etc`, { bigint: true }).mtimeNs).toBe(1_700_000_005_000_000_000n);
        expect(readFileSync(`${t}/deep/${'d'.repeat(120)}/${'e'.repeat(120)}/file-with-a-long-path`, 'utf8')).toBe('long');
        // Read-only view.
        expect(() => writeFileSync(`${t}/new`, 'x')).toThrow(/EROFS|read-only/);
      } finally {
        store.unmount('v');
      }
    });

    it('stores a layer once: a second apply of the same chain does not read the stream', async () => {
      const base = layerTar(richBase());
      await applyAll(store, [base]);
      const s = streamOf(base);
      const r = await store.applyLayer(s, { mediaType: TAR, expectedDiffId: sha256(base) });
      expect(r.existed).toBe(true);
      expect(store.list().filter((x) => x.kind === 'committed')).toHaveLength(1);
    });

    it('copy-on-write: writes and deletes land in one active snapshot only', async () => {
      const [base] = await applyAll(store, [layerTar(richBase())]);
      store.prepare('a', base);
      store.prepare('b', base);
      const before = treeOf(store, base!);
      const ta = store.mount('a');
      try {
        writeFileSync(`${ta}/etc/passwd`, 'changed\n');
        writeFileSync(`${ta}/new-file`, 'new');
        unlinkSync(`${ta}/srv/keep`);
        rmSync(`${ta}/srv/data`, { recursive: true });
        expect(existsSync(`${ta}/srv/keep`)).toBe(false);
      } finally {
        store.unmount('a');
      }
      // The committed layer and the sibling are untouched.
      expect(treeOf(store, base!)).toEqual(before);
      const tb = store.mount('b');
      try {
        expect(readFileSync(`${tb}/etc/passwd`, 'utf8')).toBe('root:x:0:0::/root:/bin/sh\n');
        expect(existsSync(`${tb}/new-file`)).toBe(false);
        expect(readFileSync(`${tb}/srv/keep`, 'utf8')).toBe('keep');
      } finally {
        store.unmount('b');
      }
      // The change is in a's own data: usage grew, and a diff shows exactly it.
      const d = store.diff('a');
      const chunks: Buffer[] = [];
      for await (const c of d.stream) chunks.push(c as Buffer);
      await d.done;
      const names = await tarNames(Buffer.concat(chunks));
      expect(names).toEqual(expect.arrayContaining(['etc/passwd', 'new-file', 'srv/.wh.keep', 'srv/.wh.data']));
      expect(names).not.toContain('bin/sh');
      // A deleted lower file comes back in a new snapshot.
      store.prepare('c', base);
      const tc = store.mount('c');
      try { expect(readFileSync(`${tc}/srv/keep`, 'utf8')).toBe('keep'); } finally { store.unmount('c'); }
    });

    it('converts whiteouts and opaque dirs, including a whiteout then a new dir in one layer', async () => {
      const l1 = layerTar([
        { name: 'a/' }, { name: 'a/x', content: 'x' }, { name: 'a/y', content: 'y' },
        { name: 'o/' }, { name: 'o/old1', content: '1' }, { name: 'o/sub/' }, { name: 'o/sub/old2', content: '2' },
        { name: 'r/' }, { name: 'r/lower', content: 'l' },
        { name: 'f', content: 'file' },
      ]);
      const l2 = layerTar([
        { name: 'a/' }, { name: 'a/.wh.x' },
        { name: 'o/' }, { name: 'o/.wh..wh..opq' }, { name: 'o/new', content: 'n' },
        { name: 'r/.wh.lower' }, { name: '.wh.r' }, { name: 'r/', mode: 0o700 }, { name: 'r/fresh', content: 'f' },
        { name: '.wh.f' },
      ]);
      const [, top] = await applyAll(store, [l1, l2]);
      store.view('v', top);
      const tree = treeOf(store, 'v');
      expect(Object.keys(tree).filter((k) => k !== '.').sort()).toEqual(['a', 'a/y', 'o', 'o/new', 'r', 'r/fresh']);
      expect(tree['r']).toContain('mode=700');
      if (driver === 'overlay') {
        // On disk: a 0/0 char device for a/x, the opaque xattr on o and r.
        const layerDir = `${store.root}/l/${store.mounts(top!)[0]!.options.find((o) => o.startsWith('lowerdir='))!.split(':')[0]!.split('/l/')[1]}`;
        const wh = lstatSync(`${layerDir}/a/x`);
        expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
        expect(lgetxattr(`${layerDir}/o`, 'trusted.overlay.opaque')?.toString()).toBe('y');
        expect(lgetxattr(`${layerDir}/r`, 'trusted.overlay.opaque')?.toString()).toBe('y');
      }
    });

    describe('rejects malicious layers with no trace on disk', () => {
      const outside = () => `${fx.dir}/outside`;
      const cases: Array<[string, () => Promise<Buffer>, string]> = [
        ['a ".." entry', () => pack([{ header: { name: 'ok/' , type: 'directory' } }, { header: { name: 'ok/../../../evil' }, content: 'x' }]), 'ok/../../../evil'],
        ['an absolute path', () => pack([{ header: { name: '/etc/evil' }, content: 'x' }]), '/etc/evil'],
        ['a symlink escape then a write through it', async () => pack([
          { header: { name: 'esc', type: 'symlink', linkname: outside() } },
          { header: { name: 'esc/pwned' }, content: 'x' },
        ]), 'esc/pwned'],
        ['a relative symlink escape then a write through it', async () => pack([
          { header: { name: 'd/', type: 'directory' } },
          { header: { name: 'd/up', type: 'symlink', linkname: '../../../../../../../../..' + outside() } },
          { header: { name: 'd/up/pwned' }, content: 'x' },
        ]), 'd/up/pwned'],
        ['a hardlink to outside', () => pack([{ header: { name: 'h', type: 'link', linkname: '../../../../etc/passwd' } }]), 'h'],
        ['an absolute hardlink', () => pack([{ header: { name: 'h', type: 'link', linkname: '/etc/passwd' } }]), 'h'],
        ['a 300-character name', () => pack([{ header: { name: `${'n'.repeat(300)}` }, content: 'x' }]), 'n'.repeat(300)],
        ['a path over PATH_MAX', () => pack([{ header: { name: `${'p'.repeat(200)}/`.repeat(21) + 'f' }, content: 'x' }]), `${'p'.repeat(200)}/`.repeat(21) + 'f'],
      ];
      for (const [what, build, entry] of cases) {
        it(what, async () => {
          mkdirSync(outside());
          const [base] = await applyAll(store, [layerTar([{ name: 'ok/' }, { name: 'ok/f', content: 'f' }])]);
          const before = storeDirsSnapshot(store);
          const tar = await build();
          const err = await store.applyLayer(streamOf(tar), { mediaType: TAR, parentChainId: base }).then(() => null, (e: unknown) => e);
          expect(err).toMatchObject({ code: 'InvalidArgument', field: entry });
          expect(String((err as Error).message)).toContain(entry.slice(0, 100));
          expect(storeDirsSnapshot(store)).toEqual(before);
          expect(readdirSync(outside())).toEqual([]);
          expect(existsSync('/etc/evil')).toBe(false);
        });
      }
    });

    it('refuses a DiffID mismatch with DataLoss and keeps nothing', async () => {
      const before = storeDirsSnapshot(store);
      const tar = layerTar([{ name: 'f', content: 'x' }]);
      const wrong = sha256(Buffer.from('not this'));
      const err = await store.applyLayer(streamOf(tar), { mediaType: TAR, expectedDiffId: wrong }).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'DataLoss' });
      expect(String((err as Error).message)).toContain(wrong);
      expect(storeDirsSnapshot(store)).toEqual(before);
    });

    it('refuses a truncated or corrupt blob with DataLoss', async () => {
      const tar = layerTar([{ name: 'f', content: 'x'.repeat(5000) }]);
      for (const [blob, mt] of [[tar.subarray(0, 1500), TAR], [gzip(tar).subarray(0, 100), MediaType.OciLayerGzip], [Buffer.from('garbage!'.repeat(100)), MediaType.OciLayerZstd]] as const) {
        const err = await store.applyLayer(streamOf(Buffer.from(blob)), { mediaType: mt }).then(() => null, (e: unknown) => e);
        expect(err).toMatchObject({ code: 'DataLoss' });
      }
      expect(store.list()).toEqual([]);
      expect(readdirSync(`${store.root}/tmp`)).toEqual([]);
    });

    it('reports a failing input stream as such (not DataLoss) and keeps nothing', async () => {
      const tar = gzip(layerTar([{ name: 'f', content: 'x'.repeat(200_000) }]));
      const before = storeDirsSnapshot(store);
      let sent = false;
      const input = new Readable({
        read() {
          if (!sent) { sent = true; this.push(tar.subarray(0, tar.length / 2)); return; }
          this.destroy(Object.assign(new Error('client went away'), { code: 'ECONNRESET' }));
        },
      });
      const err = await store.applyLayer(input, { mediaType: MediaType.OciLayerGzip }).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'Unavailable' });
      expect(String((err as Error).message)).toContain('client went away');
      expect(storeDirsSnapshot(store)).toEqual(before);
    });

    it('applies gzip and zstd layers (OCI and Docker media types) to the same DiffID and tree', async () => {
      const tar = layerTar(richBase());
      const plain = await store.applyLayer(streamOf(tar), { mediaType: TAR });
      const want = treeOf(store, plain.chainId);
      store.remove(plain.chainId);
      for (const [blob, mt] of [
        [gzip(tar), MediaType.OciLayerGzip], [gzip(tar), MediaType.DockerLayerGzip],
        [zstd(tar), MediaType.OciLayerZstd], [zstd(tar), MediaType.DockerLayerZstd],
      ] as const) {
        const r = await store.applyLayer(streamOf(blob, 65536), { mediaType: mt, expectedDiffId: sha256(tar) });
        expect(r.diffId).toBe(sha256(tar));
        expect(treeOf(store, r.chainId)).toEqual(want);
        store.remove(r.chainId);
      }
      await expect(store.applyLayer(streamOf(tar), { mediaType: 'application/x-rar' })).rejects.toMatchObject({ code: 'InvalidArgument', field: 'mediaType' });
    });

    it('diff of a snapshot that created, changed and deleted files round-trips through applyLayer', async () => {
      const [base] = await applyAll(store, [layerTar(richBase())]);
      store.prepare('work', base);
      const t = store.mount('work');
      try {
        writeFileSync(`${t}/etc/passwd`, 'root:x:0:0::/root:/bin/ash\nnobody:x:65534:65534::/:/bin/false\n');
        appendFileSync(`${t}/etc/app.conf`, 'b=2\n');
        chmodSync(`${t}/bin/sh`, 0o700);
        mkdirSync(`${t}/var/log/app`, { recursive: true });
        writeFileSync(`${t}/var/log/app/out.log`, Buffer.alloc(100_000, 7));
        unlinkSync(`${t}/etc/shadow`);
        rmSync(`${t}/srv/data`, { recursive: true });
        renameSync(`${t}/srv/keep`, `${t}/srv/kept`);
        rmdirSync(`${t}/usr/lib`);
        writeFileSync(`${t}/usr/lib`, 'now a file');
      } finally {
        store.unmount('work');
      }
      const want = treeOf(store, 'work');
      const d = store.diff('work', { compression: 'gzip' });
      const chunks: Buffer[] = [];
      for await (const c of d.stream) chunks.push(c as Buffer);
      const res = await d.done;
      const blob = Buffer.concat(chunks);
      expect(res.digest).toBe(sha256(blob));
      expect(res.compressedSize).toBe(blob.length);
      const applied = await store.applyLayer(streamOf(blob, 65536), { mediaType: MediaType.OciLayerGzip, parentChainId: base, expectedDiffId: res.diffId });
      expect(treeOf(store, applied.chainId)).toEqual(want);
      // The same changes diff to the same bytes (deterministic order).
      const again = store.diff('work');
      again.stream.resume();
      expect((await again.done).diffId).toBe(res.diffId);
      // Commit without a name: the snapshot becomes the layer with that chain ID (already stored).
      const c = await store.commit('work');
      expect(c.key).toBe(applied.chainId);
    });

    it('commit makes a layer others can build on; usage counts the snapshot own data', async () => {
      const [base] = await applyAll(store, [layerTar(richBase())]);
      store.prepare('w', base);
      const t = store.mount('w');
      try { writeFileSync(`${t}/blob`, Buffer.alloc(1 << 20, 1)); } finally { store.unmount('w'); }
      const u = store.usage('w');
      expect(u.size).toBeGreaterThanOrEqual(1 << 20);
      expect(u.inodes).toBeGreaterThanOrEqual(2);
      const info = await store.commit('w', 'my-layer', { purpose: 'test' });
      expect(info).toMatchObject({ key: 'my-layer', kind: 'committed', parent: base, labels: { purpose: 'test' } });
      store.prepare('w2', 'my-layer');
      const t2 = store.mount('w2');
      try { expect(statSync(`${t2}/blob`).size).toBe(1 << 20); } finally { store.unmount('w2'); }
    });

    it('records kind, parent and labels; reports the driver; dedupes concurrent applies', async () => {
      const tar = layerTar([{ name: 'f', content: 'f' }]);
      const opts = { mediaType: TAR, expectedDiffId: sha256(tar), labels: { image: 'x' } };
      const [a, b] = await Promise.all([store.applyLayer(streamOf(tar), opts), store.applyLayer(streamOf(tar), opts)]);
      expect([a.existed, b.existed].sort()).toEqual([false, true]);
      expect(store.list().filter((s) => s.kind === 'committed')).toHaveLength(1);
      store.prepare('c1', a.chainId, { container: 'c1' });
      store.view('v1', a.chainId);
      expect(store.stat(a.chainId)).toMatchObject({ key: a.chainId, kind: 'committed', parent: null, diffId: sha256(tar), size: tar.length, labels: { image: 'x' } });
      expect(store.stat('c1')).toMatchObject({ kind: 'active', parent: a.chainId, labels: { container: 'c1' }, diffId: null });
      expect(store.stat('v1')).toMatchObject({ kind: 'view', parent: a.chainId });
      expect(store.list().map((s) => s.key)).toEqual([a.chainId, 'c1', 'v1']);
      expect(store.info()).toMatchObject({ driver, root: store.root });
      expect(() => store.prepare('c1', a.chainId)).toThrow(expect.objectContaining({ code: 'AlreadyExists' }));
      expect(() => store.prepare('c2', 'c1')).toThrow(expect.objectContaining({ code: 'FailedPrecondition', field: 'parent' }));
      expect(() => store.prepare('c3', 'sha256:' + '0'.repeat(64))).toThrow(expect.objectContaining({ code: 'NotFound', field: 'parent' }));
      expect(() => store.stat('nope')).toThrow(expect.objectContaining({ code: 'NotFound' }));
      await expect(store.commit('v1')).rejects.toMatchObject({ code: 'FailedPrecondition' });
    });

    it('refuses to remove or commit a snapshot the store has mounted', async () => {
      const [base] = await applyAll(store, [layerTar([{ name: 'f', content: 'f' }])]);
      store.prepare('m', base);
      const t = store.mount('m');
      try {
        expect(() => store.remove('m')).toThrow(expect.objectContaining({ code: 'FailedPrecondition', message: expect.stringContaining(t) }));
        await expect(store.commit('m', 'named')).rejects.toMatchObject({ code: 'FailedPrecondition' });
        expect(() => store.mount('m')).toThrow(expect.objectContaining({ code: 'FailedPrecondition' }));
        expect(() => store.mount('m', '/elsewhere')).toThrow(expect.objectContaining({ code: 'FailedPrecondition' }));
      } finally {
        store.unmount('m');
      }
      expect(existsSync(t)).toBe(false);
      await store.commit('m', 'named');
      expect(store.stat('named').kind).toBe('committed');
    });

    it('refuses to remove a layer with children, naming them', async () => {
      const [l1, l2] = await applyAll(store, [layerTar([{ name: 'a', content: 'a' }]), layerTar([{ name: 'b', content: 'b' }])]);
      store.prepare('ctr', l2);
      expect(() => store.remove(l1!)).toThrow(expect.objectContaining({ code: 'FailedPrecondition', message: expect.stringContaining(l2!) }));
      expect(() => store.remove(l2!)).toThrow(expect.objectContaining({ code: 'FailedPrecondition', message: expect.stringContaining('ctr') }));
      store.remove('ctr');
      store.remove(l2!);
      store.remove(l1!);
      expect(store.list()).toEqual([]);
      expect(readdirSync(`${store.root}/snapshots`)).toEqual([]);
      // The directories are deleted in the background, out of tmp/.
      await store.removalsDone();
      expect(readdirSync(`${store.root}/tmp`)).toEqual([]);
    });

    it('garbage collection removes exactly the unreferenced snapshots', async () => {
      const shared = layerTar([{ name: 'base', content: 'b' }]);
      const [s1, a2] = await applyAll(store, [shared, layerTar([{ name: 'a', content: 'a' }])]);
      const [, b2, b3] = await applyAll(store, [shared, layerTar([{ name: 'b', content: 'b' }]), layerTar([{ name: 'c', content: 'c' }])]);
      store.prepare('keep-ctr', b2);
      store.prepare('old-ctr', a2);
      store.view('old-view', s1);
      // Image B is still used (by chain b3); image A and old containers are not.
      const r = store.garbageCollect([b3!], ['keep-ctr']);
      expect(r.removed.sort()).toEqual([a2!, 'old-ctr', 'old-view'].sort());
      expect(store.list().map((s) => s.key).sort()).toEqual([s1!, b2!, b3!, 'keep-ctr'].sort());
      expect(readdirSync(`${store.root}/snapshots`)).toHaveLength(4);
      expect(store.garbageCollect([], []).removed.sort()).toEqual([s1!, b2!, b3!, 'keep-ctr'].sort());
      expect(store.list()).toEqual([]);
    });

    it('mounts an image of 64 layers', async () => {
      const tars = Array.from({ length: 64 }, (_, i) => layerTar([{ name: `layer${String(i).padStart(2, '0')}`, content: String(i) }, { name: 'top', content: String(i) }]));
      const ids = await applyAll(store, tars);
      expect(ids).toEqual(chainIds(tars.map(sha256)));
      store.prepare('big', ids[63]);
      const t = store.mount('big');
      try {
        expect(readdirSync(t).filter((n) => n.startsWith('layer'))).toHaveLength(64);
        expect(readFileSync(`${t}/top`, 'utf8')).toBe('63');
        expect(readFileSync(`${t}/layer00`, 'utf8')).toBe('0');
      } finally {
        store.unmount('big');
      }
    });

    it('cleans up at open: staging dirs, stale mounts under the root, unknown snapshot dirs; keeps a recorded root mount', async () => {
      const [base] = await applyAll(store, [layerTar([{ name: 'f', content: 'f' }])]);
      store.prepare('c', base);
      const t = store.mount('c');
      mkdirSync(`${store.root}/tmp/deadbeef0000/fs`, { recursive: true });
      mkdirSync(`${store.root}/snapshots/feedface0000/fs`, { recursive: true });
      const stale = `${store.root}/tmp/deadbeef0000/fs`;
      mount('tmpfs', stale, 'tmpfs', 0, '');
      // A "crash": the store is dropped without unmounting.
      const reopened = fx.reopen(driver);
      expect(mountsUnder(reopened.root)).toEqual([t]);
      reopened.unmount('c');
      expect(mountsUnder(reopened.root)).toEqual([]);
      expect(existsSync(t)).toBe(false);
      expect(readdirSync(`${reopened.root}/tmp`)).toEqual([]);
      expect(existsSync(`${reopened.root}/snapshots/feedface0000`)).toBe(false);
      expect(reopened.list().map((s) => s.key).sort()).toEqual([base!, 'c'].sort());
      expect(treeOf(reopened, 'c')['f']).toContain('file');
    });
  });
}

/** Entry names of an (optionally gzipped) tar, via the independent tar-stream parser. */
export async function tarNames(blob: Buffer): Promise<string[]> {
  const tar = blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
  const names: string[] = [];
  const ex = tarStream.extract();
  ex.on('entry', (h, stream, next) => { names.push(h.name.replace(/\/$/, '')); stream.on('end', next); stream.resume(); });
  await new Promise<void>((resolve, reject) => { ex.on('finish', resolve); ex.on('error', reject); ex.end(tar); });
  return names;
}

export type { TestEntry };
