// Transport rules and challenge parsing, without a network.
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuthConfig } from './auth-config.js';
import { parseChallenges } from './challenge.js';
import { RegistryClient, apiHost, isLoopbackRegistry } from './client.js';

describe('insecure registries', () => {
  const cfg = new AuthConfig('/nonexistent/auth.json');
  it('allows plain HTTP for loopback only, unless configured', () => {
    for (const h of ['localhost:5000', '127.0.0.1:5000', '127.8.9.10', '[::1]:5000']) expect(isLoopbackRegistry(h)).toBe(true);
    for (const h of ['example.com', '10.0.0.1:5000', 'localhost.example.com']) expect(isLoopbackRegistry(h)).toBe(false);
    expect(new RegistryClient('registry.example.com:5000', { authConfig: cfg }).insecure).toBe(false);
    expect(new RegistryClient('registry.example.com:5000', { authConfig: cfg, insecureRegistries: ['registry.example.com:5000'] }).insecure).toBe(true);
    expect(new RegistryClient('registry.example.com', { authConfig: cfg, insecureRegistries: ['registry.example.com'] }).insecure).toBe(true);
  });
  it('sends Docker Hub API calls to registry-1.docker.io', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('ghcr.io')).toBe('ghcr.io');
  });
});

describe('WWW-Authenticate', () => {
  it('parses bearer parameters with quoted commas, and several challenges', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm", Bearer realm="https://x/t", service=reg')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', service: 'reg' } },
    ]);
  });
});

describe('credentials file', () => {
  it('reads Docker Hub legacy keys and writes atomically with mode 0600', async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'berth-images-auth-'));
    try {
      const path = join(dir, 'sub', 'auth.json');
      const cfg = new AuthConfig(path);
      expect(await cfg.get('docker.io')).toBeUndefined();
      await fs.mkdir(join(dir, 'sub'));
      await fs.writeFile(path, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('u:p:with:colons').toString('base64') } }, credsStore: 'x' }));
      expect(await cfg.get('docker.io')).toEqual({ username: 'u', password: 'p:with:colons' });
      await cfg.set('127.0.0.1:5000', { username: 'a', password: 'b' });
      const saved = JSON.parse(await fs.readFile(path, 'utf8'));
      expect(saved.credsStore).toBe('x');
      expect(Object.keys(saved.auths).sort()).toEqual(['127.0.0.1:5000', 'https://index.docker.io/v1/']);
      expect((await fs.stat(path)).mode & 0o777).toBe(0o600);
      expect(await cfg.remove('127.0.0.1:5000')).toBe(true);
      expect(await cfg.get('127.0.0.1:5000')).toBeUndefined();
      await fs.writeFile(path, '{not json');
      await expect(cfg.get('x')).rejects.toThrow(/not valid JSON/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
