import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { capabilityFor, loadRegistryHosts, parseHostsToml, registryConfigDir } from './hosts-config.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function configRoot(files: Record<string, string>): Promise<string> {
  const root = await fs.mkdtemp(join(tmpdir(), 'berth-hosts-'));
  dirs.push(root);
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(join(root, rel, '..'), { recursive: true });
    await fs.writeFile(join(root, rel), text);
  }
  return root;
}

describe('hosts.toml', () => {
  it('lists mirrors in file order with their settings, the server last', async () => {
    const root = await configRoot({
      'registry.k8s.io/hosts.toml': `
server = "https://registry.k8s.io"

[host."http://127.0.0.1:5000"]
  capabilities = ["pull", "resolve"]
  [host."http://127.0.0.1:5000".header]
    X-Mirror = "first"

[host."https://mirror.test:8443/sub/path"]
  skip_verify = true
  override_path = true
  ca = "ca.pem"
`,
      'registry.k8s.io/ca.pem': '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
    });
    const { endpoints } = await loadRegistryHosts(root, 'registry.k8s.io', 'registry.k8s.io', false);
    expect(endpoints.map((e) => [e.origin, e.prefix, [...e.capabilities].sort().join(','), e.isServer])).toEqual([
      ['http://127.0.0.1:5000', '/v2', 'pull,resolve', false],
      ['https://mirror.test:8443', '/sub/path', 'pull,push,resolve', false],
      ['https://registry.k8s.io', '/v2', 'pull,push,resolve', true],
    ]);
    expect(endpoints[0]?.headers).toEqual({ 'x-mirror': 'first' });
    expect(endpoints[0]?.namespace).toBe('registry.k8s.io');
    expect(endpoints[1]?.skipVerify).toBe(true);
    expect(endpoints[1]?.ca[0]).toContain('BEGIN CERTIFICATE');
    expect(endpoints[2]?.namespace).toBeUndefined();
  });

  it('without a directory for the registry uses _default, and without either the server alone', async () => {
    const root = await configRoot({ '_default/hosts.toml': '[host."http://127.0.0.1:6000"]\n' });
    const viaDefault = await loadRegistryHosts(root, 'gcr.io', 'gcr.io', false);
    expect(viaDefault.endpoints.map((e) => e.origin)).toEqual(['http://127.0.0.1:6000', 'https://gcr.io']);
    const empty = await configRoot({});
    const none = await loadRegistryHosts(empty, 'docker.io', 'registry-1.docker.io', false);
    expect(none.endpoints.map((e) => e.origin)).toEqual(['https://registry-1.docker.io']);
    expect(none.stamp).toBe('none');
  });

  it('names the file and the bad field', async () => {
    const bad = async (text: string, field: RegExp) => {
      try {
        await parseHostsToml(text, '/etc/berth/certs.d/x/hosts.toml', 'x', 'x', '/tmp');
        expect.unreachable();
      } catch (e) {
        expect(isInvalidArgument(e)).toBe(true);
        expect((e as Error).message).toContain('/etc/berth/certs.d/x/hosts.toml');
        expect((e as Error).message).toMatch(field);
      }
    };
    await bad('server = ', /not valid TOML/);
    await bad('[host."ftp://m"]\n', /must be http:\/\/ or https:\/\//);
    await bad('[host."http://m"]\ncapabilities = ["pull", "fetch"]\n', /capabilities must be a list/);
    await bad('[host."http://m"]\nskip_verify = "yes"\n', /skip_verify must be true or false/);
    await bad('[host."http://m"]\nca = "/nonexistent/ca.pem"\n', /ca \/nonexistent\/ca.pem does not exist/);
  });

  it('BERTH_REGISTRY_CONFIG moves the directory', () => {
    expect(registryConfigDir({})).toBe('/etc/berth/certs.d');
    expect(registryConfigDir({ BERTH_REGISTRY_CONFIG: '/srv/certs.d' })).toBe('/srv/certs.d');
  });
});

describe('capabilityFor', () => {
  it('tags resolve, digests and blobs pull, a push scope or a write pushes', () => {
    expect(capabilityFor('GET', '/v2/a/b/manifests/1.29')).toBe('resolve');
    expect(capabilityFor('HEAD', '/v2/a/manifests/sha256:abc')).toBe('pull');
    expect(capabilityFor('GET', '/v2/a/blobs/sha256:abc')).toBe('pull');
    expect(capabilityFor('GET', '/v2/a/tags/list?n=10')).toBe('resolve');
    expect(capabilityFor('HEAD', '/v2/a/blobs/sha256:abc', ['repository:a:pull,push'])).toBe('push');
    expect(capabilityFor('PUT', '/v2/a/manifests/v1')).toBe('push');
  });
});
