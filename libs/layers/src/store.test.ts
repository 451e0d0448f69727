// LayerStore tests that are not per driver: both drivers give the same tree,
// sparse files, driver detection, crash safety under kill -9.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync, chmodSync, unlinkSync, symlinkSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { mount, umount, MNT, lsetxattr } from '@berth/sys';
import { LayerStore } from './store';
import { chooseDriver } from './detect';
import { mountsUnder } from './mountinfo';
import { MediaType } from './mediatypes';
import { StoreFixture, applyAll, treeOf } from './testing/suite';
import { layerTar, richBase, sha256, streamOf, gzip } from './testing/tars';
import { describeTree } from './testing/tree';

const TAR = MediaType.OciLayer;

function image(): Buffer[] {
  return [
    layerTar(richBase()),
    layerTar([
      { name: 'etc/', mode: 0o755, mtime: 1_700_000_100 },
      { name: 'etc/.wh.shadow' },
      { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/ash\n', mtime: 1_700_000_100 },
      { name: 'srv/', mode: 0o2775, uid: 33, gid: 33 },
      { name: 'srv/data/', mode: 0o750 },
      { name: 'srv/data/.wh..wh..opq' },
      { name: 'srv/data/c', content: 'C', xattrs: { 'trusted.berth.test': Buffer.from([0, 1, 2, 255]) } },
      { name: 'bin/', mode: 0o755 },
      { name: 'bin/busybox', content: 'bb', mode: 0o755 },
      { name: 'bin/ls', type: 'hardlink', linkname: 'bin/busybox' },
      { name: 'usr/lib/libc.so', content: 'libc' },
      { name: 'opt/new/deep/file', content: 'implicit parents' },
    ]),
    layerTar([
      { name: '.wh.run' },
      { name: 'run/', mode: 0o711 },
      { name: 'bin/ash', type: 'hardlink', linkname: 'bin/sh' },
      { name: 'srv/data/.wh.c' },
    ]),
  ];
}

describe('overlay and copy drivers', () => {
  const fo = new StoreFixture();
  const fc = new StoreFixture();
  afterEach(() => { fo.cleanup(); fc.cleanup(); });

  it('give identical trees for the same image, and identical diffs of the same changes', async () => {
    const so = fo.open('overlay');
    const sc = fc.open('copy');
    const tars = image();
    const co = await applyAll(so, tars);
    const cc = await applyAll(sc, tars);
    expect(co).toEqual(cc);
    const top = co[co.length - 1]!;
    // Every layer of the chain, as a committed (read-only) tree.
    for (const id of co) expect(treeOf(so, id)).toEqual(treeOf(sc, id));
    const tree = treeOf(so, top);
    expect(tree['etc/shadow']).toBeUndefined();
    expect(Object.keys(tree).filter((k) => k.startsWith('srv/data/'))).toEqual([]);
    expect(tree['bin/ls']).toContain('group=bin/busybox');
    expect(tree['opt/new/deep/file']).toContain('file');
    // The same work in an active snapshot of each gives the same tree and the same diff.
    for (const s of [so, sc]) {
      s.prepare('ctr', top);
      const t = s.mount('ctr');
      try {
        writeFileSync(`${t}/etc/passwd`, 'changed');
        chmodSync(`${t}/etc`, 0o700);
        // (No link() or unlink() of hardlinked lower files here: with
        // index=off overlayfs breaks the link on copy-up, as Docker's does;
        // see docs/design/layers.md.)
        unlinkSync(`${t}/usr/lib/libc.so`);
        symlinkSync('/bin/sh', `${t}/bin/vi`);
        writeFileSync(`${t}/bin/new1`, 'n');
        linkSync(`${t}/bin/new1`, `${t}/bin/new2`);
        mkdirSync(`${t}/srv/data/x/y`, { recursive: true });
        lsetxattr(`${t}/srv/data/x`, 'user.k', Buffer.from('v'));
        rmSync(`${t}/opt`, { recursive: true });
        // Pin times so both trees can be compared exactly.
        execFileSync('touch', ['-h', '-d', '@1700000200', `${t}/bin/new1`, `${t}/usr/lib`, `${t}/etc/passwd`, `${t}/etc`, `${t}/bin`, `${t}/bin/vi`, `${t}/srv/data/x/y`, `${t}/srv/data/x`, `${t}/srv/data`, `${t}/srv`, t]);
      } finally {
        s.unmount('ctr');
      }
    }
    const ao = treeOf(so, 'ctr');
    expect(ao).toEqual(treeOf(sc, 'ctr'));
    const d1 = so.diff('ctr');
    const d2 = sc.diff('ctr');
    const b1: Buffer[] = [];
    const b2: Buffer[] = [];
    for await (const c of d1.stream) b1.push(c as Buffer);
    for await (const c of d2.stream) b2.push(c as Buffer);
    const [r1, r2] = [await d1.done, await d2.done];
    // Applying each driver's diff on the other driver's store gives the container's tree.
    const x1 = await sc.applyLayer(streamOf(Buffer.concat(b1)), { mediaType: TAR, parentChainId: top, expectedDiffId: r1.diffId });
    const x2 = await so.applyLayer(streamOf(Buffer.concat(b2)), { mediaType: TAR, parentChainId: top, expectedDiffId: r2.diffId });
    expect(treeOf(sc, x1.chainId)).toEqual(ao);
    expect(treeOf(so, x2.chainId)).toEqual(ao);
  });
});

describe('very many layers', () => {
  const fx = new StoreFixture();
  afterEach(() => fx.cleanup());

  it('mounts a 150-layer image whose lowerdir does not fit a page (new mount API)', async () => {
    const store = fx.open('overlay');
    const tars = Array.from({ length: 150 }, (_, i) => layerTar([{ name: `f${i}`, content: String(i) }, { name: 'top', content: String(i) }]));
    const ids = await applyAll(store, tars);
    store.prepare('tall', ids[149]);
    const lower = store.mounts('tall')[0]!.options.find((o) => o.startsWith('lowerdir='))!;
    expect(lower.length).toBeGreaterThan(4096);
    const t = store.mount('tall');
    try {
      expect(readdirSync(t).filter((n) => n.startsWith('f'))).toHaveLength(150);
      expect(readFileSync(`${t}/top`, 'utf8')).toBe('149');
      writeFileSync(`${t}/written`, 'w');
    } finally {
      store.unmount('tall');
    }
    store.view('tall-view', ids[149]);
    const v = store.mount('tall-view');
    try {
      expect(readFileSync(`${v}/f0`, 'utf8')).toBe('0');
      expect(() => writeFileSync(`${v}/x`, 'x')).toThrow(/EROFS|read-only/);
    } finally {
      store.unmount('tall-view');
    }
  });
});

describe('sparse files', () => {
  const fx = new StoreFixture();
  let work = '';
  afterEach(() => { fx.cleanup(); if (work) rmSync(work, { recursive: true, force: true }); });

  for (const format of ['gnu', 'posix']) {
    it(`keeps a GNU tar --sparse (${format}) file sparse`, async () => {
      work = mkdtempSync(join(tmpdir(), 'berth-sparse-'));
      mkdirSync(`${work}/src`);
      const f = `${work}/src/disk.img`;
      execFileSync('truncate', ['-s', '1G', f]);
      execFileSync('dd', ['if=/dev/urandom', `of=${f}`, 'bs=4096', 'count=3', 'seek=1000', 'conv=notrunc'], { stdio: 'ignore' });
      writeFileSync(`${work}/src/small`, 'tail');
      execFileSync('tar', ['--sparse', `--format=${format}`, '-C', `${work}/src`, '-cf', `${work}/l.tar`, 'disk.img', 'small']);
      const tar = readFileSync(`${work}/l.tar`);
      expect(tar.length).toBeLessThan(1 << 20);
      const store = fx.open('overlay');
      const r = await store.applyLayer(streamOf(tar, 65536), { mediaType: TAR, expectedDiffId: sha256(tar) });
      store.view('v', r.chainId);
      const t = store.mount('v');
      try {
        const st = statSync(`${t}/disk.img`);
        expect(st.size).toBe(1 << 30);
        expect(st.blocks * 512).toBeLessThan(1 << 20);
        expect(readFileSync(`${t}/disk.img`).equals(readFileSync(f))).toBe(true);
        expect(readFileSync(`${t}/small`, 'utf8')).toBe('tail');
      } finally {
        store.unmount('v');
      }
    });
  }

  it('turns long zero runs of a plain tar into holes', async () => {
    const store = fx.open('copy');
    const content = Buffer.concat([Buffer.from('head'), Buffer.alloc(32 << 20), Buffer.from('tail')]);
    const tar = layerTar([{ name: 'zeros', content }]);
    const r = await store.applyLayer(streamOf(gzip(tar), 65536), { mediaType: MediaType.OciLayerGzip });
    const t = store.mount(r.chainId);
    try {
      const st = statSync(`${t}/zeros`);
      expect(st.size).toBe(content.length);
      expect(st.blocks * 512).toBeLessThan(64 * 1024);
      expect(readFileSync(`${t}/zeros`).equals(content)).toBe(true);
    } finally {
      store.unmount(r.chainId);
    }
  });
});

describe('one layer applied twice at once', () => {
  const fx = new StoreFixture();
  afterEach(() => fx.cleanup());
  const tar = layerTar([{ name: 'etc/', type: 'dir' }, { name: 'etc/hello', content: 'hello\n' }]);
  const opts = { mediaType: TAR, expectedDiffId: sha256(tar) };

  it('the second waits for the first and takes its layer, without reading its own input', async () => {
    const store = fx.open('overlay');
    const first = new PassThrough();
    const second = new PassThrough();
    const a = store.applyLayer(first, opts);
    const b = store.applyLayer(second, opts);
    first.end(tar);
    const [ra, rb] = await Promise.all([a, b]);
    expect(rb.chainId).toBe(ra.chainId);
    expect([ra.existed, rb.existed]).toEqual([false, true]);
    expect(second.destroyed).toBe(true);
    expect(store.list().filter((s) => s.kind === 'committed')).toHaveLength(1);
  });

  it('when the first apply fails (its stream broke), the second applies its own bytes', async () => {
    const store = fx.open('overlay');
    const first = new PassThrough();
    const second = new PassThrough();
    const a = store.applyLayer(first, opts);
    const b = store.applyLayer(second, opts);
    first.write(tar.subarray(0, 700));
    first.destroy(new Error('download restarted'));
    await expect(a).rejects.toThrow();
    second.end(tar);
    const rb = await b;
    expect(rb.diffId).toBe(sha256(tar));
    store.view('v', rb.chainId);
    try {
      expect(readFileSync(`${store.mount('v')}/etc/hello`, 'utf8')).toBe('hello\n');
    } finally {
      store.unmount('v');
    }
  });
});

describe('driver detection', () => {
  let dir = '';
  afterEach(() => {
    if (!dir) return;
    for (const mp of mountsUnder(dir)) { try { umount(mp, MNT.DETACH); } catch { /* gone */ } }
    rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('picks overlay on ext4/xfs/tmpfs, copy when the state dir is on overlayfs, and obeys the override', () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-detect-'));
    expect(chooseDriver(`${dir}/plain`, undefined, '')).toMatchObject({ driver: 'overlay', reason: 'probe ok' });
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(`${dir}/${d}`);
    mount('overlay', `${dir}/merged`, 'overlay', 0, `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`);
    const onOverlay = chooseDriver(`${dir}/merged/state`, undefined, '');
    expect(onOverlay.driver).toBe('copy');
    expect(onOverlay.reason).toMatch(/overlay probe failed/);
    expect(chooseDriver(`${dir}/merged/state`, undefined, 'overlay')).toEqual({ driver: 'overlay', reason: 'env' });
    expect(chooseDriver(`${dir}/plain`, 'copy', 'overlay')).toEqual({ driver: 'copy', reason: 'option' });
    expect(() => chooseDriver(`${dir}/plain`, undefined, 'zfs')).toThrow(expect.objectContaining({ code: 'InvalidArgument', field: 'BERTH_SNAPSHOTTER' }));
    // A store on overlayfs works with the copy driver it detected.
    const store = LayerStore.open({ root: `${dir}/merged/state` });
    try { expect(store.driverName).toBe('copy'); } finally { store.close(); }
  });

  it('refuses to reopen a store with another driver', () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-detect-'));
    LayerStore.open({ root: `${dir}/s`, driver: 'copy' }).close();
    expect(() => LayerStore.open({ root: `${dir}/s`, driver: 'overlay' })).toThrow(expect.objectContaining({ code: 'FailedPrecondition' }));
  });
});

describe('state file modes', () => {
  const f = new StoreFixture();
  afterEach(() => f.cleanup());
  const modeOf = (p: string) => statSync(p).mode & 0o7777;

  it('keeps metadata.db and its -wal/-shm 0600, and tightens ones an older berth left 0644', async () => {
    const s = f.open('copy');
    await applyAll(s, [layerTar([{ name: 'etc/hostname', content: 'x\n' }])]);
    const db = `${f.dir}/root/metadata.db`;
    const files = [db, `${db}-wal`, `${db}-shm`];
    for (const p of files) expect(modeOf(p), p).toBe(0o600);
    for (const p of files) chmodSync(p, 0o644);
    f.reopen('copy');
    for (const p of files) if (existsSync(p)) expect(modeOf(p), p).toBe(0o600);
    expect(modeOf(db)).toBe(0o600);
  });
});

describe('crash safety', () => {
  const distIndex = join(__dirname, '..', 'dist', 'index.js');
  beforeAll(() => {
    // The child runs the built library, as the service would.
    execFileSync('npx', ['tsc', '-b'], { cwd: join(__dirname, '..'), stdio: 'inherit' });
  }, 120_000);
  const fx = new StoreFixture();
  afterEach(() => fx.cleanup());

  for (const driver of ['overlay', 'copy'] as const) {
    it(`kill -9 during applyLayer and prepare leaves no half layer (${driver})`, async () => {
      const store = fx.open(driver);
      const [base] = await applyAll(store, [layerTar(richBase())]);
      store.close();
      fx.store = null;
      const root = `${fx.dir}/root`;
      // The child applies a layer whose stream stalls halfway, and holds a mount.
      const script = `
        const { LayerStore } = require(${JSON.stringify(distIndex)});
        const { Readable } = require('node:stream');
        const s = LayerStore.open({ root: ${JSON.stringify(root)}, driver: ${JSON.stringify(driver)} });
        s.prepare('ctr', ${JSON.stringify(base)});
        s.mount('ctr');
        let n = 0;
        const big = Buffer.alloc(512 * 1024, 1);
        const hdr = (name, size) => { const b = Buffer.alloc(512); b.write(name, 0); b.write(size.toString(8).padStart(11, '0'), 124); b.write('0000644', 100); b.write('0000000', 108); b.write('0000000', 116); b.write('00000000000', 136); b[156] = 48; b.write('ustar\\u000000', 257, 'latin1'); b.fill(32, 148, 156); let sum = 0; for (const x of b) sum += x; b.write(sum.toString(8).padStart(6, '0') + '\\u0000 ', 148, 'latin1'); return b; };
        const input = new Readable({ read() { if (n < 8) { this.push(Buffer.concat([hdr('f' + n, big.length), big])); n++; if (n === 8) process.stdout.write('stalled\\n'); } } });
        s.applyLayer(input, { mediaType: 'application/vnd.oci.image.layer.v1.tar', parentChainId: ${JSON.stringify(base)} });
      `;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise((r) => child.once('exit', r));
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('stalled')) resolve(); });
          child.once('exit', (code) => reject(new Error(`child exited early with ${code}: ${stderr}`)));
        });
        // Give the unpacker time to write what it has.
        await new Promise((r) => setTimeout(r, 300));
        expect(readdirSync(`${root}/tmp`).length).toBeGreaterThan(0);
        expect(mountsUnder(root).length).toBeGreaterThan(0);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      const mountedRoot = mountsUnder(`${root}/mounts`);
      expect(mountedRoot).toHaveLength(1);
      const reopened = fx.reopen(driver);
      // The root the crashed store mounted is adopted (a container may run in
      // it); the half-applied layer's staging is gone.
      expect(mountsUnder(root)).toEqual(mountedRoot);
      expect(readdirSync(`${root}/tmp`)).toEqual([]);
      expect(reopened.list().map((s) => s.key).sort()).toEqual([base!, 'ctr'].sort());
      expect(readdirSync(`${root}/snapshots`)).toHaveLength(2);
      expect(() => reopened.mount('ctr')).toThrow(/already mounted/);
      reopened.unmount('ctr');
      expect(mountsUnder(root)).toEqual([]);
      expect(existsSync(`${root}/mounts`) && readdirSync(`${root}/mounts`)).toEqual([]);
      // The interrupted layer can be applied again from scratch.
      const again = await reopened.applyLayer(streamOf(layerTar([{ name: 'f0', content: 'x' }])), { mediaType: TAR, parentChainId: base });
      expect(again.existed).toBe(false);
    });
  }
});

describe('reopening with roots mounted', () => {
  const fx = new StoreFixture();
  afterEach(() => fx.cleanup());

  it('adopts recorded root mounts, drops records of vanished ones, detaches unrecorded ones', async () => {
    const store = fx.open('overlay');
    const [base] = await applyAll(store, [layerTar(richBase())]);
    store.prepare('kept', base);
    const kept = store.mount('kept');
    writeFileSync(`${kept}/mine`, 'still here');
    store.prepare('vanished', base);
    const vanished = store.mount('vanished');
    store.close();
    fx.store = null;
    const root = `${fx.dir}/root`;
    umount(vanished); // as after a reboot, for this one
    const stray = `${root}/mounts/stray`;
    mkdirSync(stray);
    mount('tmpfs', stray, 'tmpfs', 0, '');
    const reopened = fx.reopen('overlay');
    expect(mountsUnder(root)).toEqual([kept]);
    expect(readFileSync(`${kept}/mine`, 'utf8')).toBe('still here');
    expect(existsSync(stray)).toBe(false);
    // The vanished root mounts again; the kept one is already mounted.
    expect(reopened.mount('vanished')).toBe(vanished);
    expect(() => reopened.mount('kept')).toThrow(/already mounted/);
    reopened.unmount('vanished');
    reopened.unmount('kept');
    expect(mountsUnder(root)).toEqual([]);
  });
});

describe('spawnSync sanity', () => {
  it('has the tools the tests and the zstd path need', () => {
    expect(spawnSync('zstd', ['--version']).status).toBe(0);
  });
});
