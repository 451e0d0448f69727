// Test support: a minimal Docker token server (docker token auth spec) for a
// registry configured with `auth: token`. It checks Basic credentials,
// grants the requested repository actions, and signs an ES256 JWT whose x5c
// header carries the certificate the registry trusts.
import { createSign, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { run } from './registry.js';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPem: string;
  /** Every scope asked for, in order. */
  scopes: string[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=berth-test-token', '-keyout', join(dir, 'token.key'), '-out', join(dir, 'token.crt')]);
  const keyPem = await fs.readFile(join(dir, 'token.key'), 'utf8');
  const certPem = await fs.readFile(join(dir, 'token.crt'), 'utf8');
  const der = certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const service = 'berth-test-registry';
  const issuer = 'berth-test-issuer';
  const scopes: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization;
    let subject = '';
    if (auth?.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (!u || users[u] !== p) {
        res.writeHead(401).end();
        return;
      }
      subject = u;
    }
    const access = url.searchParams.getAll('scope').map((s) => {
      scopes.push(s);
      const [type, name, actions] = s.split(':');
      // Anonymous callers may only pull; known users get what they ask.
      const granted = (actions ?? '').split(',').filter((a) => subject !== '' || a === 'pull');
      return { type, name, actions: granted };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [der] };
    const claims = { iss: issuer, sub: subject, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('SHA256').update(signingInput).sign({ key: keyPem, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${b64url(sig)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`, service, issuer, certPem, scopes,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
