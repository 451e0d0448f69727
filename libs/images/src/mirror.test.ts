// Registry host configuration on real registries (docker-registry on loopback): one acts as the
// mirror of registry.k8s.io (hosts.toml), another as an upstream server for fallback and push.
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFailedPrecondition, isUnavailable } from '@berth/errors';
import { ImagesLocal } from './local.js';
import { UnpackLayerApplier } from './unpack-applier.js';
import { buildImage } from './testing/build-image.js';
import { run, skopeoCopy, startRegistry, type TestRegistry } from './testing/registry.js';

let work: string;
let mirror: TestRegistry;
let upstream: TestRegistry;
let secure: TestRegistry;
let certsDir: string;
let caPem: string;

async function openLocal(name: string) {
  const root = join(work, name);
  const applier = new UnpackLayerApplier(join(root, 'layers'));
  const local = await ImagesLocal.open({ root: join(root, 'store'), layerApplier: applier, authConfigPath: join(root, 'auth.json'), registryConfigDir: certsDir });
  return { local, applier };
}

async function writeHosts(registry: string, text: string): Promise<void> {
  await fs.mkdir(join(certsDir, registry), { recursive: true });
  await fs.writeFile(join(certsDir, registry, 'hosts.toml'), text);
}

async function manifestStatus(reg: TestRegistry, path: string): Promise<number> {
  const res = await fetch(`http://${reg.host}/v2/${path}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return res.status;
}

beforeAll(async () => {
  work = await fs.mkdtemp(join(tmpdir(), 'berth-images-mirror-'));
  certsDir = join(work, 'certs.d');
  // A self-signed certificate for 127.0.0.1: the HTTPS registry that ca and skip_verify are about.
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(work, 'tls-key.pem'), '-out', join(work, 'tls-cert.pem')]);
  caPem = await fs.readFile(join(work, 'tls-cert.pem'), 'utf8');
  const keyPem = await fs.readFile(join(work, 'tls-key.pem'), 'utf8');
  [mirror, upstream, secure] = await Promise.all([startRegistry(), startRegistry(), startRegistry({ tls: { certPem: caPem, keyPem } })]);
  const layout = join(work, 'layout');
  await buildImage(layout, 'one', [{ files: { '/etc/which': 'from the mirror\n' } }], work);
  await buildImage(layout, 'two', [{ files: { '/etc/which': 'from upstream\n' } }], work);
  await skopeoCopy(`oci:${layout}:one`, `docker://${mirror.host}/e2e-test-images/busybox:1.29-2`);
  await skopeoCopy(`oci:${layout}:two`, `docker://${upstream.host}/only/upstream:v1`);
  await skopeoCopy(`oci:${layout}:one`, `docker://${secure.host}/over/tls:v1`);
  await writeHosts('registry.k8s.io', `server = "https://registry.k8s.io"\n\n[host."http://${mirror.host}"]\n  capabilities = ["pull", "resolve"]\n`);
  await writeHosts('gcr.io', `server = "http://${upstream.host}"\n\n[host."http://${mirror.host}"]\n  capabilities = ["pull", "resolve"]\n`);
}, 120_000);

afterAll(async () => {
  await Promise.all([mirror?.stop(), upstream?.stop(), secure?.stop()]);
  await fs.rm(work, { recursive: true, force: true });
});

describe('registry mirrors (hosts.toml)', () => {
  it('pulls registry.k8s.io/... from its configured mirror, under the registry.k8s.io name', async () => {
    const { local, applier } = await openLocal('k8s');
    try {
      const rec = await local.transfer.pull('registry.k8s.io/e2e-test-images/busybox:1.29-2');
      expect(rec.name).toBe('registry.k8s.io/e2e-test-images/busybox:1.29-2');
      const info = await local.images.inspect('registry.k8s.io/e2e-test-images/busybox:1.29-2');
      const { chainIds } = await import('./digest.js');
      const top = chainIds(info.config.rootfs.diff_ids).at(-1) as string;
      expect(await fs.readFile(join(applier.rootfsOf(top), 'etc/which'), 'utf8')).toBe('from the mirror\n');
    } finally {
      local.close();
    }
  });

  it('falls back to the server when the mirror does not have the image', async () => {
    const { local, applier } = await openLocal('fallback');
    try {
      const rec = await local.transfer.pull('gcr.io/only/upstream:v1');
      expect(rec.name).toBe('gcr.io/only/upstream:v1');
      const info = await local.images.inspect('gcr.io/only/upstream:v1');
      const { chainIds } = await import('./digest.js');
      const top = chainIds(info.config.rootfs.diff_ids).at(-1) as string;
      expect(await fs.readFile(join(applier.rootfsOf(top), 'etc/which'), 'utf8')).toBe('from upstream\n');
    } finally {
      local.close();
    }
  });

  it('pushes only where push is allowed: the server, not a pull-only mirror', async () => {
    const { local } = await openLocal('push');
    try {
      await local.transfer.pull('gcr.io/only/upstream:v1');
      await local.images.tag('gcr.io/only/upstream:v1', 'gcr.io/pushed/here:v2');
      await local.transfer.push('gcr.io/pushed/here:v2');
      expect(await manifestStatus(upstream, 'pushed/here/manifests/v2')).toBe(200);
      expect(await manifestStatus(mirror, 'pushed/here/manifests/v2')).toBe(404);
    } finally {
      local.close();
    }
  });

  it('a registry whose hosts allow no pull says so and names the file', async () => {
    await writeHosts('pull.denied.test', `server = "http://${upstream.host}"\ncapabilities = ["push"]\n`);
    const { local } = await openLocal('denied');
    try {
      const err = await local.transfer.pull('pull.denied.test/only/upstream:v1').catch((e: unknown) => e);
      expect(isFailedPrecondition(err)).toBe(true);
      expect((err as Error).message).toContain('pull.denied.test/hosts.toml');
    } finally {
      local.close();
    }
  });

  it('an HTTPS mirror is trusted through its ca file or skip_verify, and refused without either', async () => {
    await fs.mkdir(join(certsDir, 'tls.test'), { recursive: true });
    await fs.writeFile(join(certsDir, 'tls.test', 'mirror-ca.pem'), caPem);
    const hosts = (extra: string) => `server = "https://tls.test"\n\n[host."https://${secure.host}"]\n  capabilities = ["pull", "resolve"]\n${extra}`;

    await writeHosts('tls.test', hosts('  ca = "mirror-ca.pem"\n'));
    const withCa = await openLocal('tls-ca');
    try {
      expect((await withCa.local.transfer.pull('tls.test/over/tls:v1')).name).toBe('tls.test/over/tls:v1');
    } finally {
      withCa.local.close();
    }

    await writeHosts('tls.test', hosts('  skip_verify = true\n'));
    const skipping = await openLocal('tls-skip');
    try {
      expect((await skipping.local.transfer.pull('tls.test/over/tls:v1')).name).toBe('tls.test/over/tls:v1');
    } finally {
      skipping.local.close();
    }

    // Neither: the mirror's certificate is not trusted (the server may only push, so the mirror's is the answer).
    await writeHosts('tls.test', `server = "https://127.0.0.1:1"\ncapabilities = ["push"]\n\n[host."https://${secure.host}"]\n  capabilities = ["pull", "resolve"]\n`);
    const untrusted = await openLocal('tls-none');
    try {
      const err = await untrusted.local.transfer.pull('tls.test/over/tls:v1').catch((e: unknown) => e);
      expect(isUnavailable(err)).toBe(true);
      expect((err as Error).message).toMatch(new RegExp(`${secure.host.replace('.', '\\.')}.*(SELF_SIGNED|certificate)`, 'i'));
    } finally {
      untrusted.local.close();
    }
  });
});
