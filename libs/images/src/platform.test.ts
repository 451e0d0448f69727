// Multi-platform images (OCI index, Docker manifest list) and Docker schema2
// manifests, pushed to a real registry with skopeo.
import * as fs from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFailedPrecondition, isInvalidArgument, isNotFound } from '@berth/errors';
import { ImagesLocal } from './local.js';
import { MediaType } from './media-types.js';
import { hostPlatform, parsePlatform, platformMatches } from './platform.js';
import { UnpackLayerApplier } from './unpack-applier.js';
import { buildImage } from './testing/build-image.js';
import { buildMultiPlatformLayout } from './testing/multi-platform.js';
import { run, skopeoCopy, startRegistry, type TestRegistry } from './testing/registry.js';

let work: string;
let reg: TestRegistry;

async function openLocal(name: string) {
  const root = join(work, name);
  const applier = new UnpackLayerApplier(join(root, 'layers'));
  const local = await ImagesLocal.open({ root: join(root, 'store'), layerApplier: applier, authConfigPath: join(root, 'auth.json') });
  return { local, applier, root };
}

beforeAll(async () => {
  work = await fs.mkdtemp(join(tmpdir(), 'berth-images-platform-'));
  reg = await startRegistry();
  const multi = join(work, 'multi');
  await buildMultiPlatformLayout(multi, 'multi', work);
  await skopeoCopy(`oci:${multi}:multi`, `docker://${reg.host}/test/multi:oci`, ['--all']);
  await skopeoCopy(`oci:${multi}:multi`, `docker://${reg.host}/test/multi:list`, ['--all', '--format', 'v2s2']);
  const single = join(work, 'single');
  await buildImage(single, 's', [{ files: { '/hello': 'hi\n' } }], work);
  await skopeoCopy(`oci:${single}:s`, `docker://${reg.host}/test/single:v2s2`, ['--format', 'v2s2']);
  // A layer the registry has not seen: skopeo reuses known blobs instead of recompressing.
  const zs = join(work, 'zstd');
  await buildImage(zs, 'z', [{ files: { '/zstd-only': 'compressed with zstd\n' } }], work);
  await skopeoCopy(`oci:${zs}:z`, `docker://${reg.host}/test/single:zstd`, ['--dest-compress', '--dest-compress-format', 'zstd']);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await fs.rm(work, { recursive: true, force: true });
});

describe('platforms', () => {
  it('maps the host to linux/amd64 here and matches arm64 variants', () => {
    if (process.arch === 'x64') expect(hostPlatform()).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(false);
    expect(isInvalidArgument((() => { try { parsePlatform('linux'); } catch (e) { return e; } })())).toBe(true);
  });

  for (const tag of ['oci', 'list']) {
    it(`pulls the host platform from an ${tag === 'oci' ? 'OCI index' : 'Docker manifest list'}, or the one asked for`, async () => {
      const { local, root } = await openLocal(`pull-${tag}`);
      const other = await openLocal(`pull-${tag}-arm`);
      try {
        const rec = await local.transfer.pull(`${reg.host}/test/multi:${tag}`);
        expect(rec.target.mediaType).toBe(tag === 'oci' ? MediaType.OciIndex : MediaType.DockerManifestList);
        const info = await local.images.inspect(rec.name);
        expect(info.config.architecture).toBe('amd64');
        // The other platform's content was never fetched.
        const arm = await local.images.inspect(rec.name, { platform: parsePlatform('linux/arm64') }).catch((e: unknown) => e);
        expect(isFailedPrecondition(arm)).toBe(true);

        const armRec = await other.local.transfer.pull(`${reg.host}/test/multi:${tag}`, { platform: parsePlatform('linux/arm64') });
        expect(armRec.target.digest).toBe(rec.target.digest);
        expect((await other.local.images.inspect(armRec.name, { platform: parsePlatform('linux/arm64') })).config.architecture).toBe('arm64');

        // Saving an incomplete index exports the platform's manifest, which skopeo reads.
        const out = join(root, 'save.tar');
        await pipeline(await local.transfer.save([rec.name], { format: 'oci' }), createWriteStream(out));
        const { stdout } = await run('skopeo', ['inspect', `oci-archive:${out}:${tag}`]);
        expect(JSON.parse(stdout).Architecture).toBe('amd64');

        const missing = await local.transfer.pull(`${reg.host}/test/multi:${tag}`, { platform: parsePlatform('linux/s390x') }).catch((e: unknown) => e);
        expect(isNotFound(missing)).toBe(true);
        expect((missing as Error).message).toMatch(/linux\/s390x.*linux\/amd64.*linux\/arm64/);
      } finally {
        local.close();
        other.local.close();
      }
    });
  }

  it('pulls Docker schema2 manifests and pushes them back unchanged', async () => {
    const { local } = await openLocal('v2s2');
    try {
      const rec = await local.transfer.pull(`${reg.host}/test/single:v2s2`);
      expect(rec.target.mediaType).toBe(MediaType.DockerManifest);
      const pushed = await local.transfer.push(rec.name, `${reg.host}/copy/single:v2s2`);
      expect(pushed.digest).toBe(rec.target.digest);
      const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/copy/single:v2s2`]);
      expect(JSON.parse(stdout).mediaType).toBe(MediaType.DockerManifest);
    } finally {
      local.close();
    }
  });

  it('pulls and unpacks zstd layers, and saves them as plain tars in a docker-archive', async () => {
    const { local, applier, root } = await openLocal('zstd');
    try {
      const rec = await local.transfer.pull(`${reg.host}/test/single:zstd`);
      const info = await local.images.inspect(rec.name);
      expect(info.layers.map((l) => l.descriptor.mediaType)).toContain(MediaType.OciLayerZstd);
      expect(applier.diffIds).toEqual(info.config.rootfs.diff_ids);
      const out = join(root, 'z.tar');
      await pipeline(await local.transfer.save([rec.name], { format: 'docker' }), createWriteStream(out));
      const { stdout } = await run('skopeo', ['inspect', `docker-archive:${out}`]);
      expect(JSON.parse(stdout).Layers).toEqual(info.config.rootfs.diff_ids);
    } finally {
      local.close();
    }
  });

  it('pushes a whole multi-platform index when every platform is present', async () => {
    const { local } = await openLocal('push-index');
    try {
      await local.transfer.pull(`${reg.host}/test/multi:oci`);
      await local.transfer.pull(`${reg.host}/test/multi:oci`, { platform: parsePlatform('linux/arm64') });
      const out = await local.transfer.push(`${reg.host}/test/multi:oci`, `${reg.host}/copy/multi:oci`);
      const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/copy/multi:oci`]);
      const raw = JSON.parse(stdout);
      expect(raw.manifests).toHaveLength(2);
      // The index itself went up, unchanged: the pushed digest is the local image's target.
      expect(out.digest).toBe(local.images.get(`${reg.host}/test/multi:oci`).target.digest);
      expect(raw.mediaType).toBe(MediaType.OciIndex);
    } finally {
      local.close();
    }
  });
});
