// Import, load, save and the busybox image, checked with skopeo and umoci.
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainIds } from './digest.js';
import { ImageEvent } from './events.js';
import { ImagesLocal } from './local.js';
import { UnpackLayerApplier } from './unpack-applier.js';
import { buildBusyboxRootfs } from './archive/busybox.js';
import { buildImage, describeTree } from './testing/build-image.js';
import { run } from './testing/registry.js';

let work: string;
let layout: string;

async function openLocal(name: string) {
  const root = join(work, name);
  const applier = new UnpackLayerApplier(join(root, 'layers'));
  const local = await ImagesLocal.open({ root: join(root, 'store'), layerApplier: applier, authConfigPath: join(root, 'auth.json') });
  return { local, applier, root };
}

async function topTree(local: ImagesLocal, applier: UnpackLayerApplier, ref: string): Promise<string> {
  const info = await local.images.inspect(ref);
  return applier.rootfsOf(chainIds(info.config.rootfs.diff_ids).at(-1)!);
}

beforeAll(async () => {
  work = await fs.mkdtemp(join(tmpdir(), 'berth-images-archive-'));
  layout = join(work, 'layout');
  await buildImage(layout, 'v1', [
    { files: { '/etc/motd': 'welcome\n', '/usr/share/blob': Buffer.alloc(100_000, 7) } },
    { files: { '/etc/extra': 'extra\n', '/gone': 'x' } },
    { whiteouts: ['/gone'] },
  ], work);
}, 60_000);

afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

describe('load', () => {
  it('loads what skopeo wrote as docker-archive, and unpacks the tree umoci unpacks', async () => {
    const { local, applier, root } = await openLocal('load-docker');
    try {
      const archive = join(root, 'img.tar');
      await fs.mkdir(root, { recursive: true });
      await run('skopeo', ['copy', '--quiet', `oci:${layout}:v1`, `docker-archive:${archive}:example.com/team/app:v1`]);
      const loaded: string[] = [];
      local.events.on(ImageEvent.Loaded, (e) => loaded.push(e.name));
      const recs = await local.transfer.load(createReadStream(archive));
      expect(recs.map((r) => r.name)).toEqual(['example.com/team/app:v1']);
      expect(loaded).toEqual(['example.com/team/app:v1']);
      // Nothing but the image's own blobs stays (no manifest.json, no repositories file).
      expect((await local.images.gc()).removed).toEqual([]);
      const info = await local.images.inspect('example.com/team/app:v1');
      expect((await local.content.list()).length).toBe(2 + info.layers.length);
      await run('umoci', ['unpack', '--image', `${layout}:v1`, join(root, 'bundle')]);
      expect(await describeTree(await topTree(local, applier, 'example.com/team/app:v1'))).toEqual(await describeTree(join(root, 'bundle/rootfs')));
    } finally {
      local.close();
    }
  });

  it('loads what skopeo wrote as oci-archive', async () => {
    const { local, applier, root } = await openLocal('load-oci');
    try {
      await fs.mkdir(root, { recursive: true });
      const archive = join(root, 'img.tar');
      await run('skopeo', ['copy', '--quiet', `oci:${layout}:v1`, `oci-archive:${archive}:registry.local/app:v2`]);
      const recs = await local.transfer.load(createReadStream(archive));
      expect(recs.map((r) => r.name)).toEqual(['registry.local/app:v2']);
      expect(await fs.readFile(join(await topTree(local, applier, 'registry.local/app:v2'), 'etc/motd'), 'utf8')).toBe('welcome\n');
    } finally {
      local.close();
    }
  });

  it('rejects an OCI archive whose blob does not match its name, leaving nothing', async () => {
    const { local, root } = await openLocal('load-bad');
    try {
      const bad = join(root, 'bad');
      await fs.mkdir(root, { recursive: true });
      await fs.cp(layout, bad, { recursive: true });
      const idx = JSON.parse(await fs.readFile(join(bad, 'index.json'), 'utf8'));
      const man = JSON.parse(await fs.readFile(join(bad, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8'));
      const layerPath = join(bad, 'blobs/sha256', man.layers[0].digest.slice(7));
      const data = await fs.readFile(layerPath);
      data[20] = data[20]! ^ 0xff;
      await fs.writeFile(layerPath, data);
      await run('tar', ['-c', '-f', join(root, 'bad.tar'), '-C', bad, '.']);
      const err = (await local.transfer.load(createReadStream(join(root, 'bad.tar'))).catch((e: unknown) => e)) as Error & { code: string };
      expect(err.code).toBe('DataLoss');
      expect(local.images.list()).toEqual([]);
      expect(await local.content.list()).toEqual([]);
    } finally {
      local.close();
    }
  });
});

describe('save', () => {
  it('saves OCI archives that skopeo inspects and umoci unpacks to the same tree', async () => {
    const { local, applier, root } = await openLocal('save-oci');
    try {
      await fs.mkdir(root, { recursive: true });
      await run('skopeo', ['copy', '--quiet', `oci:${layout}:v1`, `oci-archive:${join(root, 'in.tar')}:app:v1`]);
      await local.transfer.load(createReadStream(join(root, 'in.tar')));
      const out = join(root, 'out.tar');
      await pipeline(await local.transfer.save(['app:v1'], { format: 'oci' }), createWriteStream(out));
      const { stdout } = await run('skopeo', ['inspect', `oci-archive:${out}:v1`]);
      const inspected = JSON.parse(stdout);
      const mine = await local.images.inspect('app:v1');
      expect(inspected.Layers).toEqual(mine.layers.map((l) => l.descriptor.digest));
      const dir = join(root, 'extracted');
      await fs.mkdir(dir);
      await run('tar', ['-x', '-f', out, '-C', dir]);
      await run('umoci', ['unpack', '--image', `${dir}:v1`, join(root, 'bundle')]);
      expect(await describeTree(join(root, 'bundle/rootfs'))).toEqual(await describeTree(await topTree(local, applier, 'app:v1')));
    } finally {
      local.close();
    }
  });

  it('saves docker-archives that are OCI archives too (Docker 25+): skopeo reads both, umoci unpacks, podman and a fresh store load back the same image', async () => {
    const { local, applier, root } = await openLocal('save-docker');
    try {
      await fs.mkdir(root, { recursive: true });
      await run('skopeo', ['copy', '--quiet', `oci:${layout}:v1`, `oci-archive:${join(root, 'in.tar')}:app:v1`]);
      await local.transfer.load(createReadStream(join(root, 'in.tar')));
      const out = join(root, 'out.tar');
      await pipeline(await local.transfer.save(['app:v1'], { format: 'docker' }), createWriteStream(out));
      const { stdout } = await run('skopeo', ['inspect', `docker-archive:${out}`]);
      const inspected = JSON.parse(stdout);
      const mine = await local.images.inspect('app:v1');
      // docker-archive layers are uncompressed, so skopeo reports DiffIDs.
      expect(inspected.Layers).toEqual(mine.config.rootfs.diff_ids);
      // The archive's manifest.json names the image (what `docker load` tags it with),
      // and its paths point into the OCI layout's blobs/sha256/, as Docker 25+ writes them.
      const { stdout: manifestJson } = await run('tar', ['-xOf', out, 'manifest.json']);
      const items = JSON.parse(manifestJson) as Array<{ RepoTags: string[]; Config: string; Layers: string[] }>;
      expect(items.map((m) => m.RepoTags)).toEqual([['app:v1']]);
      expect(items[0]!.Config).toBe(`blobs/sha256/${mine.id!.slice(7)}`);
      expect(items[0]!.Layers).toEqual(mine.config.rootfs.diff_ids.map((d) => `blobs/sha256/${d.slice(7)}`));
      const { stdout: listing } = await run('tar', ['-tf', out]);
      for (const f of [items[0]!.Config, ...items[0]!.Layers, 'index.json', 'oci-layout']) expect(listing.split('\n')).toContain(f);

      // The same file is an OCI archive: skopeo's oci-archive: and umoci read it (by tag).
      const asOci = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${out}:v1`])).stdout);
      expect(asOci.Layers).toEqual(mine.config.rootfs.diff_ids);
      expect(asOci.Digest).toMatch(/^sha256:/);
      const dir = join(root, 'extracted');
      await fs.mkdir(dir);
      await run('tar', ['-x', '-f', out, '-C', dir]);
      await run('umoci', ['unpack', '--image', `${dir}:v1`, join(root, 'bundle')]);
      expect(await describeTree(join(root, 'bundle/rootfs'))).toEqual(await describeTree(await topTree(local, applier, 'app:v1')));

      // podman load reads it (its own store in temp dirs, the vfs driver: nothing shared with the host's).
      // (podman wants a runroot of at most 50 characters.)
      const runroot = await fs.mkdtemp(join(tmpdir(), 'berth-pr-'));
      const podman = ['--root', join(root, 'podman-root'), '--runroot', runroot, '--storage-driver', 'vfs'];
      try {
        await run('podman', [...podman, 'load', '-q', '-i', out]);
        const { stdout: podmanImages } = await run('podman', [...podman, 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}', '--no-trunc']);
        expect(podmanImages).toContain(`docker.io/library/app:v1 ${mine.id}`);
      } finally {
        // vfs keeps plain directories (no mounts): removing them is the whole cleanup. (No
        // `podman system reset`: it also clears the host's podman network configs.)
        await fs.rm(join(root, 'podman-root'), { recursive: true, force: true });
        await fs.rm(runroot, { recursive: true, force: true });
      }
      const again = await openLocal('save-docker-2');
      try {
        const recs = await again.local.transfer.load(createReadStream(out));
        expect(recs.map((r) => r.name)).toEqual(['docker.io/library/app:v1']);
        const back = await again.local.images.inspect('app:v1');
        expect(back.id).toBe(mine.id);
        expect(back.config.rootfs.diff_ids).toEqual(mine.config.rootfs.diff_ids);
      } finally {
        again.local.close();
      }
    } finally {
      local.close();
    }
  });
});

describe('save and load several images', () => {
  it('round-trips two images with several tags through one docker-archive and one OCI archive', async () => {
    const { local, root } = await openLocal('multi-save');
    try {
      await local.transfer.ensureBusyboxImage();
      await fs.mkdir(root, { recursive: true });
      await run('skopeo', ['copy', '--quiet', `oci:${layout}:v1`, `oci-archive:${join(root, 'in.tar')}:app:v1`]);
      await local.transfer.load(createReadStream(join(root, 'in.tar')));
      local.images.tag('busybox', 'example.com/tools/bb:1');
      for (const format of ['docker', 'oci'] as const) {
        const out = join(root, `all-${format}.tar`);
        await pipeline(await local.transfer.save(['busybox', 'example.com/tools/bb:1', 'app:v1'], { format }), createWriteStream(out));
        const other = await openLocal(`multi-load-${format}`);
        try {
          const recs = await other.local.transfer.load(createReadStream(out));
          expect(recs.map((r) => r.name).sort()).toEqual(['docker.io/library/app:v1', 'docker.io/library/busybox:latest', 'example.com/tools/bb:1']);
          expect(other.local.images.get('busybox').target.digest).toBe(other.local.images.get('example.com/tools/bb:1').target.digest);
          expect((await other.local.images.inspect('app:v1')).id).toBe((await local.images.inspect('app:v1')).id);
        } finally {
          other.local.close();
        }
      }
    } finally {
      local.close();
    }
  });
});

describe('import', () => {
  it('imports a rootfs tar as a one-layer image with DiffID and history', async () => {
    const { local, applier, root } = await openLocal('import');
    try {
      const src = join(root, 'src');
      await fs.mkdir(join(src, 'bin'), { recursive: true });
      await fs.writeFile(join(src, 'bin/tool'), 'tool\n', { mode: 0o755 });
      await run('tar', ['-c', '-f', join(root, 'rootfs.tar'), '-C', src, '.']);
      const tar = await fs.readFile(join(root, 'rootfs.tar'));
      const rec = await local.transfer.import(Readable.from([tar]), 'imported/thing:1', { message: 'from a test' });
      const info = await local.images.inspect(rec.name);
      const { createHash } = await import('node:crypto');
      expect(info.config.rootfs.diff_ids).toEqual([`sha256:${createHash('sha256').update(tar).digest('hex')}`]);
      expect(info.layers[0]!.descriptor.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(info.history[0]!.comment).toBe('from a test');
      expect(await fs.readFile(join(await topTree(local, applier, rec.name), 'bin/tool'), 'utf8')).toBe('tool\n');
      // A gzip-compressed tarball imports to the same DiffID.
      const { gzipSync } = await import('node:zlib');
      const gz = await local.transfer.import(Readable.from([gzipSync(tar)]), 'imported/thing:gz');
      expect((await local.images.inspect(gz.name)).config.rootfs.diff_ids).toEqual(info.config.rootfs.diff_ids);
    } finally {
      local.close();
    }
  });
});

describe('busybox', () => {
  it('builds a runnable, deterministic busybox:latest from /bin/busybox', async () => {
    const a = await openLocal('bb1');
    const b = await openLocal('bb2');
    try {
      const r1 = await a.local.transfer.ensureBusyboxImage();
      const r2 = await b.local.transfer.ensureBusyboxImage();
      expect(r1.name).toBe('docker.io/library/busybox:latest');
      expect(r2.target.digest).toBe(r1.target.digest);
      expect((await a.local.transfer.ensureBusyboxImage()).target.digest).toBe(r1.target.digest);
      const info = await a.local.images.inspect('busybox');
      expect(info.config.config?.Cmd).toEqual(['sh']);
      const tree = await topTree(a.local, a.applier, 'busybox');
      expect((await fs.lstat(join(tree, 'bin/busybox'))).isFile()).toBe(true);
      expect(await fs.readlink(join(tree, 'bin/sh'))).toBe('/bin/busybox');
      expect((await fs.stat(join(tree, 'tmp'))).mode & 0o7777).toBe(0o1777);
      expect(await fs.readFile(join(tree, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:.*\nnobody:x:65534:/);
      await fs.access(join(tree, 'root'));
      await fs.access(join(tree, 'home'));
      // Runs: chroot into the tree and ask busybox's sh for its applets.
      const { stdout } = await run('chroot', [tree, '/bin/sh', '-c', 'echo ok; ls /bin | wc -l']);
      expect(stdout.split('\n')[0]).toBe('ok');
      const { tar } = await buildBusyboxRootfs();
      const { tar: tar2 } = await buildBusyboxRootfs();
      expect(Buffer.compare(tar, tar2)).toBe(0);
    } finally {
      a.local.close();
      b.local.close();
    }
  });
});
