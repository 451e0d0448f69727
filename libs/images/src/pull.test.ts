// Pull and push against a real registry (docker-registry on loopback),
// populated and checked with skopeo; images built with umoci.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { isDataLoss, isNotFound, isPermissionDenied } from '@berth/errors';
import { ImagesLocal } from './local.js';
import { UnpackLayerApplier } from './unpack-applier.js';
import type { PullProgress } from './pull.js';
import { buildImage, describeTree } from './testing/build-image.js';
import { run, skopeoCopy, startRegistry, type TestRegistry } from './testing/registry.js';
import { ImageEvent } from './events.js';
import { pullCredentials } from './pull-credentials.js';

let work: string;
let reg: TestRegistry;
const big = randomBytes(3 << 20);

async function openLocal(name: string, extra: { metrics?: Registry } = {}) {
  const root = join(work, name);
  const applier = new UnpackLayerApplier(join(root, 'layers'));
  const local = await ImagesLocal.open({
    root: join(root, 'store'), layerApplier: applier, authConfigPath: join(root, 'auth.json'),
    ...(extra.metrics ? { metricsRegistry: extra.metrics } : {}),
  });
  return { local, applier, root };
}

beforeAll(async () => {
  work = await fs.mkdtemp(join(tmpdir(), 'berth-images-pull-'));
  reg = await startRegistry();
  const layout = join(work, 'layout');
  await buildImage(layout, 'multi', [
    { files: { '/etc/hello': 'hello\n', '/data/big.bin': big } },
    { files: { '/etc/second': 'second layer\n', '/data/tmp.txt': 'to be deleted\n' } },
    { whiteouts: ['/data/tmp.txt'] },
  ], work);
  await skopeoCopy(`oci:${layout}:multi`, `docker://${reg.host}/test/multi:v1`);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await fs.rm(work, { recursive: true, force: true });
});

describe('pull', () => {
  it('pulls a multi-layer image, hands every layer to the applier in order, and records it', async () => {
    const metrics = new Registry();
    const { local, applier, root } = await openLocal('pull1', { metrics });
    try {
      const events: string[] = [];
      local.events.on(ImageEvent.Pulled, (e) => events.push(e.name));
      const progress: PullProgress[] = [];
      const rec = await local.transfer.pull(`${reg.host}/test/multi:v1`, { onProgress: (p) => progress.push(p) });
      expect(rec.name).toBe(`${reg.host}/test/multi:v1`);
      expect(events).toEqual([rec.name]);

      const info = await local.images.inspect(`${reg.host}/test/multi:v1`);
      const diffIds = info.config.rootfs.diff_ids;
      expect(diffIds.length).toBeGreaterThanOrEqual(4);
      expect(applier.diffIds).toEqual(diffIds);
      expect(info.repoTags).toEqual([`${reg.host}/test/multi:v1`]);
      expect(info.config.config?.Cmd).toEqual(['sh']);

      // The unpacked tree equals skopeo + umoci's.
      const top = info.layers.length ? (await import('./digest.js')).chainIds(diffIds).at(-1)! : '';
      const ours = applier.rootfsOf(top);
      expect(await fs.readFile(join(ours, 'etc/hello'), 'utf8')).toBe('hello\n');
      expect(Buffer.compare(await fs.readFile(join(ours, 'data/big.bin')), big)).toBe(0);
      await expect(fs.access(join(ours, 'data/tmp.txt'))).rejects.toThrow();
      await skopeoCopy(`docker://${reg.host}/test/multi:v1`, `oci:${join(root, 'ref')}:v1`);
      await run('umoci', ['unpack', '--image', `${join(root, 'ref')}:v1`, join(root, 'bundle')]);
      expect(await describeTree(ours)).toEqual(await describeTree(join(root, 'bundle', 'rootfs')));

      // Progress: resolved first, done last, every layer applied.
      expect(progress[0]?.type).toBe('resolved');
      expect(progress.at(-1)?.type).toBe('done');
      expect(progress.filter((p) => p.type === 'layer' && p.status === 'applied')).toHaveLength(diffIds.length);
      const text = await metrics.metrics();
      expect(text).toMatch(/berth_images_pulled_bytes_total \d{7,}/);
      expect(text).toMatch(/berth_images_pull_duration_seconds_count 1/);
      const stored = (await local.content.list()).reduce((a, b) => a + b.size, 0);
      expect(text).toContain(`berth_images_store_bytes ${stored}`);

      // A second pull downloads and applies nothing.
      const again: PullProgress[] = [];
      await local.transfer.pull(`${reg.host}/test/multi:v1`, { onProgress: (p) => again.push(p) });
      expect(again.filter((p) => p.type === 'blob' && p.status !== 'exists')).toEqual([]);
      expect(again.filter((p) => p.type === 'layer' && p.status !== 'exists')).toEqual([]);
    } finally {
      local.close();
    }
  });

  it('streams progress through an async iterator', async () => {
    const { local } = await openLocal('pull-stream');
    try {
      const kinds: string[] = [];
      let result: string | undefined;
      for await (const item of local.transfer.pullStream(`${reg.host}/test/multi:v1`)) {
        if ('progress' in item) kinds.push(item.progress.type);
        else result = item.result.name;
      }
      expect(kinds[0]).toBe('resolved');
      expect(kinds).toContain('layer');
      expect(result).toBe(`${reg.host}/test/multi:v1`);
    } finally {
      local.close();
    }
  });

  it('names the registry and reference when the image does not exist', async () => {
    const { local } = await openLocal('pull-404');
    try {
      const err = await local.transfer.pull(`${reg.host}/test/nothere:v1`).catch((e: unknown) => e);
      expect(isNotFound(err)).toBe(true);
      expect(String((err as Error).message)).toContain(`${reg.host}/test/nothere:v1`);
      expect(local.images.list()).toEqual([]);
    } finally {
      local.close();
    }
  });

  it('reports Unavailable naming the registry when nothing listens', async () => {
    const { local } = await openLocal('pull-down');
    try {
      const err = (await local.transfer.pull('127.0.0.1:1/x:y').catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(/127\.0\.0\.1:1.*unreachable/);
    } finally {
      local.close();
    }
  });

  it('fails with DataLoss and stores nothing when a blob on the registry is corrupt', async () => {
    const layout = join(work, 'corrupt-layout');
    await buildImage(layout, 'c', [{ files: { '/a': 'a\n' } }, { files: { '/payload': randomBytes(200_000) } }], work);
    await skopeoCopy(`oci:${layout}:c`, `docker://${reg.host}/test/corrupt:v1`);
    // Flip bytes of the largest blob in the registry's storage, keeping its size.
    const blobsDir = join(reg.dataDir, 'docker/registry/v2/blobs/sha256');
    let biggest = { path: '', size: 0 };
    for (const pre of await fs.readdir(blobsDir)) {
      for (const hex of await fs.readdir(join(blobsDir, pre))) {
        const p = join(blobsDir, pre, hex, 'data');
        const st = await fs.stat(p);
        if (st.size > biggest.size && st.size < 1_000_000) biggest = { path: p, size: st.size };
      }
    }
    const data = await fs.readFile(biggest.path);
    { const i = Math.floor(data.length / 2); data[i] = data[i]! ^ 0xff; }
    await fs.writeFile(biggest.path, data);

    const { local, applier } = await openLocal('pull-corrupt');
    try {
      const err = await local.transfer.pull(`${reg.host}/test/corrupt:v1`).catch((e: unknown) => e);
      expect(isDataLoss(err)).toBe(true);
      expect(local.images.list()).toEqual([]);
      expect(await local.content.list()).toEqual([]);
      expect(await local.content.listStatuses()).toEqual([]);
      expect(local.leases.list()).toEqual([]);
      expect(applier.diffIds.length).toBeLessThan(2);
    } finally {
      local.close();
    }
  });
});

describe('pull against GC and cancellation', () => {
  it('keeps every blob of a pull in progress while GC sweeps repeatedly', async () => {
    const { local } = await openLocal('pull-gc');
    try {
      let pulling = true;
      const pull = local.transfer.pull(`${reg.host}/test/multi:v1`).finally(() => (pulling = false));
      let sweeps = 0;
      while (pulling) {
        await local.images.gc();
        sweeps++;
        await new Promise((r) => setTimeout(r, 1));
      }
      const rec = await pull;
      expect(sweeps).toBeGreaterThan(1);
      const info = await local.images.inspect(rec.name);
      for (const l of info.layers) expect(await local.content.has(l.descriptor.digest)).toBe(true);
      expect((await local.images.gc()).removed).toEqual([]);
    } finally {
      local.close();
    }
  });

  // Two pulls of one image race for each blob's ingest and each layer's
  // apply: once failed with "unexpected end of file" (an apply fell back to a
  // stream the dedup had drained) and could deadlock (an apply waiting on a
  // tap whose download waited for the other pull's lock). Passed 30 repeats.
  it('runs two pulls of one image at once, downloading and applying each blob once', async () => {
    const { local, applier } = await openLocal('pull-twice');
    try {
      const statuses: string[][] = [[], []];
      const [a, b] = await Promise.all([0, 1].map((i) =>
        local.transfer.pull(`${reg.host}/test/multi:v1`, { onProgress: (p) => p.type === 'blob' && p.status !== 'downloading' && statuses[i]!.push(p.status) })));
      expect(a!.target.digest).toBe(b!.target.digest);
      const info = await local.images.inspect(a!.name);
      expect(applier.diffIds).toEqual(info.config.rootfs.diff_ids);
      // Each blob was fetched by one pull; the other found it stored.
      const done = statuses[0]!.filter((s) => s === 'done').length + statuses[1]!.filter((s) => s === 'done').length;
      expect(done).toBe(1 + info.layers.length);
      expect(local.leases.list()).toEqual([]);
    } finally {
      local.close();
    }
  });

  it('stops when cancelled and leaves no image, blobs or leases', async () => {
    const { local } = await openLocal('pull-cancel');
    try {
      const ac = new AbortController();
      const pull = local.transfer.pull(`${reg.host}/test/multi:v1`, {
        signal: ac.signal,
        onProgress: (p) => p.type === 'resolved' && ac.abort(new Error('user cancelled')),
      });
      await expect(pull).rejects.toThrow();
      expect(local.images.list()).toEqual([]);
      expect(await local.content.list()).toEqual([]);
      expect(local.leases.list()).toEqual([]);
    } finally {
      local.close();
    }
  });
});

describe('list tags (pull --all-tags)', () => {
  it('lists every tag of a repository, page by page, sorted; refuses a tagged name; names a missing repository', async () => {
    for (const t of ['v2', 'alpha', 'v10']) await skopeoCopy(`docker://${reg.host}/test/multi:v1`, `docker://${reg.host}/tags/multi:${t}`);
    const { local } = await openLocal('tags');
    try {
      // Page size 1: three pages joined by the registry's Link headers.
      expect(await local.transfer.listTags(`${reg.host}/tags/multi`, 1)).toEqual(['alpha', 'v10', 'v2']);
      expect(await local.transfer.listTags(`${reg.host}/tags/multi`)).toEqual(['alpha', 'v10', 'v2']);
      await expect(local.transfer.listTags(`${reg.host}/tags/multi:v2`)).rejects.toThrow(/give a repository without a tag or digest/);
      const missing = await local.transfer.listTags(`${reg.host}/tags/nothing-here`).catch((e: unknown) => e);
      expect(isNotFound(missing)).toBe(true);
      expect(String(missing)).toContain(`list tags of ${reg.host}/tags/nothing-here`);
    } finally {
      local.close();
    }
  });

  it('follows relative and absolute next links', async () => {
    const { nextPage } = await import('./tags.js');
    expect(nextPage('</v2/a/tags/list?last=b&n=1>; rel="next"', '/v2/a/tags/list?n=1')).toBe('/v2/a/tags/list?last=b&n=1');
    expect(nextPage('<https://r.example/v2/a/tags/list?last=b>; rel="next"', '/v2/a/tags/list')).toBe('https://r.example/v2/a/tags/list?last=b');
    expect(nextPage('</v2/a/tags/list?last=b>; rel="prev"', '/v2/a/tags/list')).toBeUndefined();
    expect(nextPage(null, '/v2/a/tags/list')).toBeUndefined();
  });
});

describe('push', () => {
  it('pushes an image that skopeo then pulls back intact, mounting blobs across repositories', async () => {
    const { local, root } = await openLocal('push');
    try {
      await local.transfer.pull(`${reg.host}/test/multi:v1`);
      const statuses: string[] = [];
      const out = await local.transfer.push(`${reg.host}/test/multi:v1`, `${reg.host}/other/copy:v2`, {
        onProgress: (p) => p.type === 'blob' && statuses.push(p.status),
      });
      // Same registry, blobs known to live in test/multi: mounted, not uploaded.
      expect(statuses.filter((s) => s === 'mounted').length).toBeGreaterThanOrEqual(4);
      const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/other/copy:v2`]);
      expect(JSON.parse(stdout).Digest).toBe(out.digest);
      await skopeoCopy(`docker://${reg.host}/other/copy:v2`, `oci:${join(root, 'back')}:v2`);
      await run('umoci', ['unpack', '--image', `${join(root, 'back')}:v2`, join(root, 'bundle')]);
      expect(Buffer.compare(await fs.readFile(join(root, 'bundle/rootfs/data/big.bin')), big)).toBe(0);
    } finally {
      local.close();
    }
  });

  it('uploads monolithically and in chunks when the registry has nothing', async () => {
    const { local, root } = await openLocal('push-upload');
    try {
      const tar = await fs.readFile(await makeTar(root, { 'x/big': randomBytes(300_000), 'x/small': 'small\n' }));
      const { Readable } = await import('node:stream');
      await local.transfer.import(Readable.from([tar]), 'local/imported:1');
      const statuses: string[] = [];
      await local.transfer.push('local/imported:1', `${reg.host}/fresh/imported:1`, {
        chunkSize: 64 * 1024, onProgress: (p) => p.type === 'blob' && statuses.push(p.status),
      });
      expect(statuses).toContain('done');
      expect(statuses).not.toContain('mounted');
      await skopeoCopy(`docker://${reg.host}/fresh/imported:1`, `oci:${join(root, 'back')}:1`);
      await run('umoci', ['unpack', '--image', `${join(root, 'back')}:1`, join(root, 'bundle')]);
      expect(await fs.readFile(join(root, 'bundle/rootfs/x/small'), 'utf8')).toBe('small\n');
    } finally {
      local.close();
    }
  });
});

describe('basic auth', () => {
  it('refuses anonymous pulls, logs in, stores credentials, then pulls', async () => {
    const authReg = await startRegistry({ htpasswd: { user: 'alice', password: 's3cret' } });
    const { local, root } = await openLocal('auth');
    try {
      await skopeoCopy(`docker://${reg.host}/test/multi:v1`, `docker://${authReg.host}/priv/multi:v1`, ['--dest-creds', 'alice:s3cret']);
      const denied = await local.transfer.pull(`${authReg.host}/priv/multi:v1`).catch((e: unknown) => e);
      expect(isPermissionDenied(denied)).toBe(true);
      expect((denied as Error).message).toContain(authReg.host);
      const bad = await local.transfer.login(authReg.host, 'alice', 'wrong').catch((e: unknown) => e);
      expect(isPermissionDenied(bad)).toBe(true);
      await local.transfer.login(authReg.host, 'alice', 's3cret');
      const saved = JSON.parse(await fs.readFile(join(root, 'auth.json'), 'utf8'));
      expect(Buffer.from(saved.auths[authReg.host].auth, 'base64').toString()).toBe('alice:s3cret');
      expect((await fs.stat(join(root, 'auth.json'))).mode & 0o777).toBe(0o600);
      const rec = await local.transfer.pull(`${authReg.host}/priv/multi:v1`);
      expect(rec.name).toBe(`${authReg.host}/priv/multi:v1`);
      await local.transfer.push(rec.name, `${authReg.host}/priv/pushed:v1`);
      const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', 'alice:s3cret', `docker://${authReg.host}/priv/pushed:v1`]);
      expect(JSON.parse(stdout).Layers.length).toBeGreaterThanOrEqual(4);
    } finally {
      local.close();
      await authReg.stop();
    }
  });

  it("a pull's own credentials (the CRI's AuthConfig) are used for that pull only, for that registry only, and never stored", async () => {
    const authReg = await startRegistry({ htpasswd: { user: 'alice', password: 's3cret' } });
    const { local, root } = await openLocal('auth-per-pull');
    try {
      await skopeoCopy(`docker://${reg.host}/test/multi:v1`, `docker://${authReg.host}/priv/multi:v1`, ['--dest-creds', 'alice:s3cret']);
      const ref = `${authReg.host}/priv/multi:v1`;
      const wrong = await local.transfer.pull(ref, { credentials: pullCredentials({ username: 'alice', password: 'wrong' }, ref)! }).catch((e: unknown) => e);
      expect(isPermissionDenied(wrong)).toBe(true);
      // Credentials for another registry leave the (absent) stored ones in charge.
      const elsewhere = pullCredentials({ username: 'alice', password: 's3cret', serverAddress: 'https://other.example/v1/' }, ref);
      expect(elsewhere).toBeUndefined();
      const rec = await local.transfer.pull(ref, { credentials: pullCredentials({ username: 'alice', password: 's3cret', serverAddress: `http://${authReg.host}` }, ref)! });
      expect(rec.name).toBe(ref);
      await expect(fs.stat(join(root, 'auth.json'))).rejects.toThrow(/ENOENT/);
      // The next pull without them is anonymous again: refused.
      await local.images.remove(ref);
      expect(isPermissionDenied(await local.transfer.pull(ref).catch((e: unknown) => e))).toBe(true);
    } finally {
      local.close();
      await authReg.stop();
    }
  });
});

async function makeTar(dir: string, files: Record<string, Buffer | string>): Promise<string> {
  const src = join(dir, 'tar-src');
  for (const [p, c] of Object.entries(files)) {
    await fs.mkdir(join(src, p, '..'), { recursive: true });
    await fs.writeFile(join(src, p), c);
  }
  const out = join(dir, 'rootfs.tar');
  await run('tar', ['-c', '-f', out, '-C', src, '.']);
  return out;
}
