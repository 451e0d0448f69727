// The Docker token flow, Range resume and rate limiting, through a small
// proxy in front of the real registry: the proxy demands bearer tokens from
// its own token endpoint, cuts the first transfer of a large blob halfway,
// and answers 429 for one repository.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPermissionDenied, isResourceExhausted } from '@berth/errors';
import { ImagesLocal } from './local.js';
import { UnpackLayerApplier } from './unpack-applier.js';
import { buildImage } from './testing/build-image.js';
import { skopeoCopy, startRegistry, type TestRegistry } from './testing/registry.js';
import { startTokenServer } from './testing/token-server.js';

let work: string;
let reg: TestRegistry;
let proxy: Server;
let proxyHost: string;
const payload = randomBytes(2 << 20);
const tokens = new Set<string>();
const scopesAsked: string[] = [];
const ranges: string[] = [];
const cut = new Set<string>();
let tokenAuths: Array<string | undefined> = [];
const refreshGrants: URLSearchParams[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', `http://${proxyHost}`);
  if (url.pathname === '/token' && req.method === 'POST') {
    // The OAuth2 refresh_token grant (Docker's identity token): the form in the body.
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      refreshGrants.push(form);
      if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== 'rt-good') {
        res.writeHead(401).end();
        return;
      }
      const token = `tok-${randomBytes(8).toString('hex')}`;
      tokens.add(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_in: 300 }));
    });
    return;
  }
  if (url.pathname === '/token') {
    tokenAuths.push(req.headers.authorization);
    if (req.headers.authorization && req.headers.authorization !== `Basic ${Buffer.from('bob:pw').toString('base64')}`) {
      res.writeHead(401).end();
      return;
    }
    scopesAsked.push(...url.searchParams.getAll('scope'));
    const token = `tok-${randomBytes(8).toString('hex')}`;
    tokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
    return;
  }
  const auth = req.headers.authorization ?? '';
  if (!auth.startsWith('Bearer ') || !tokens.has(auth.slice(7))) {
    res.writeHead(401, {
      'www-authenticate': `Bearer realm="http://${proxyHost}/token",service="berth-test",scope="repository:x:pull"`,
      'content-type': 'application/json',
    }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    return;
  }
  if (url.pathname.includes('/ratelimited/')) {
    res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }));
    return;
  }
  if (req.headers.range) ranges.push(req.headers.range);
  const headers = { ...req.headers };
  // This repository's server ignores Range: a resumed download starts over.
  if (url.pathname.includes('/norange/')) delete headers.range;
  delete headers.authorization;
  headers.host = reg.host;
  const up = request({ host: '127.0.0.1', port: reg.port, method: req.method, path: req.url, headers }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    const len = Number(upRes.headers['content-length'] ?? 0);
    const isBlob = /\/blobs\/sha256:/.test(url.pathname) && req.method === 'GET';
    if (isBlob && len > 1_000_000 && !req.headers.range && !cut.has(url.pathname)) {
      // First transfer of a big blob: send a third of it, then drop the connection.
      cut.add(url.pathname);
      let sent = 0;
      upRes.on('data', (c: Buffer) => {
        if (sent < len / 3) {
          res.write(c);
          sent += c.length;
        } else {
          upRes.destroy();
          res.destroy();
        }
      });
      return;
    }
    upRes.pipe(res);
  });
  req.pipe(up);
}

beforeAll(async () => {
  work = await fs.mkdtemp(join(tmpdir(), 'berth-images-token-'));
  reg = await startRegistry();
  const layout = join(work, 'layout');
  await buildImage(layout, 't', [{ files: { '/big': payload } }, { files: { '/small': 'small\n' } }], work);
  await skopeoCopy(`oci:${layout}:t`, `docker://${reg.host}/test/tok:v1`, ['--dest-compress=false']);
  await skopeoCopy(`oci:${layout}:t`, `docker://${reg.host}/ratelimited/img:v1`);
  await skopeoCopy(`oci:${layout}:t`, `docker://${reg.host}/norange/img:v1`, ['--dest-compress=false']);
  proxy = createServer(handle);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const a = proxy.address();
  proxyHost = `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await reg?.stop();
  await fs.rm(work, { recursive: true, force: true });
});

async function openLocal(name: string) {
  const root = join(work, name);
  const applier = new UnpackLayerApplier(join(root, 'layers'));
  const local = await ImagesLocal.open({ root: join(root, 'store'), layerApplier: applier, authConfigPath: join(root, 'auth.json') });
  return { local, applier };
}

describe('bearer tokens and resume', () => {
  it('gets a token for the pull scope and resumes a dropped blob transfer with Range', async () => {
    const { local, applier } = await openLocal('pull');
    try {
      const rec = await local.transfer.pull(`${proxyHost}/test/tok:v1`);
      expect(rec.name).toBe(`${proxyHost}/test/tok:v1`);
      expect(scopesAsked).toContain('repository:test/tok:pull');
      expect(tokenAuths.every((a) => a === undefined)).toBe(true);
      // The transfer was cut at about a third and continued from there.
      expect(ranges.some((r) => /^bytes=[1-9]\d*-$/.test(r))).toBe(true);
      expect(applier.diffIds).toHaveLength(2);
      expect(await local.content.listStatuses()).toEqual([]);
    } finally {
      local.close();
    }
  });

  it('starts over when the server ignores Range, re-applying the layer from the verified blob', async () => {
    const { local, applier } = await openLocal('norange');
    try {
      const rec = await local.transfer.pull(`${proxyHost}/norange/img:v1`);
      const info = await local.images.inspect(rec.name);
      expect(applier.diffIds).toEqual(info.config.rootfs.diff_ids);
      expect(await local.content.listStatuses()).toEqual([]);
      const big = info.layers.find((l) => l.descriptor.size > 1_000_000)!;
      expect((await local.content.info(big.descriptor.digest)).size).toBe(big.descriptor.size);
    } finally {
      local.close();
    }
  });

  it('sends stored credentials to the token server and fails clearly when they are refused', async () => {
    const { local } = await openLocal('creds');
    try {
      tokenAuths = [];
      const bad = await local.transfer.login(proxyHost, 'bob', 'nope').catch((e: unknown) => e);
      expect(isPermissionDenied(bad)).toBe(true);
      expect((bad as Error).message).toContain(proxyHost);
      await local.transfer.login(proxyHost, 'bob', 'pw');
      await local.transfer.pull(`${proxyHost}/test/tok:v1`);
      expect(tokenAuths.at(-1)).toBe(`Basic ${Buffer.from('bob:pw').toString('base64')}`);
    } finally {
      local.close();
    }
  });

  it("a pull's identity token is exchanged with the refresh_token grant, and a registry token is sent as it is", async () => {
    const { local } = await openLocal('pull-tokens');
    try {
      const ref = `${proxyHost}/test/tok:v1`;
      const refused = await local.transfer.pull(ref, { credentials: { username: '', password: '', identityToken: 'rt-bad' } }).catch((e: unknown) => e);
      expect(isPermissionDenied(refused)).toBe(true);
      expect((refused as Error).message).toMatch(/the identity token/);
      await local.transfer.pull(ref, { credentials: { username: '', password: '', identityToken: 'rt-good' } });
      const grant = refreshGrants.at(-1)!;
      expect([grant.get('grant_type'), grant.get('service'), grant.get('scope')]).toEqual(['refresh_token', 'berth-test', 'repository:test/tok:pull']);
      await local.images.remove(ref);
      // A registry token goes straight to the registry: no token request at all.
      const registryToken = `tok-${randomBytes(8).toString('hex')}`;
      tokens.add(registryToken);
      tokenAuths = [];
      const grants = refreshGrants.length;
      await local.transfer.pull(ref, { credentials: { username: '', password: '', registryToken } });
      expect(tokenAuths).toEqual([]);
      expect(refreshGrants.length).toBe(grants);
    } finally {
      local.close();
    }
  });

  it('maps 429 to ResourceExhausted naming the registry after retrying', async () => {
    const { local } = await openLocal('429');
    try {
      const err = (await local.transfer.pull(`${proxyHost}/ratelimited/img:v1`).catch((e: unknown) => e)) as Error;
      expect(isResourceExhausted(err)).toBe(true);
      expect(err.message).toContain(proxyHost);
      expect(err.message).toContain('ratelimited/img:v1');
      expect(local.images.list()).toEqual([]);
    } finally {
      local.close();
    }
  }, 30_000);

  it('works against docker-registry configured for token auth with a real token server', async () => {
    const tokens = await startTokenServer(work, { carol: 'tok-pw' });
    const treg = await startRegistry({ token: tokens });
    const { local } = await openLocal('real-token');
    try {
      // Anonymous pushes are refused by the token server's grant (pull only).
      await local.transfer.pull(`${reg.host}/test/tok:v1`);
      const denied = await local.transfer.push(`${reg.host}/test/tok:v1`, `${treg.host}/team/tok:v1`).catch((e: unknown) => e);
      expect(isPermissionDenied(denied)).toBe(true);
      expect((denied as Error).message).toContain(treg.host);
      await local.transfer.login(treg.host, 'carol', 'tok-pw');
      await local.transfer.push(`${reg.host}/test/tok:v1`, `${treg.host}/team/tok:v1`);
      expect(tokens.scopes).toContain('repository:team/tok:pull,push');
      const fresh = await openLocal('real-token-pull');
      try {
        // Pull needs only the pull grant, which anonymous callers get.
        const rec = await fresh.local.transfer.pull(`${treg.host}/team/tok:v1`);
        expect(fresh.applier.diffIds).toHaveLength(2);
        expect(rec.name).toBe(`${treg.host}/team/tok:v1`);
      } finally {
        fresh.local.close();
      }
    } finally {
      local.close();
      await treg.stop();
      await tokens.stop();
    }
  });
});
