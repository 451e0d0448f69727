// The gateway's HTTP surface without a stack: the socket and its mode,
// version prefixes, Docker's error documents, 501s, and TCP only with mutual
// TLS (certificates made with openssl for the test).
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalidArgument } from '@berth/errors';
import { createLogger } from '@berth/kit';
import { createBackends } from './backends';
import { DockerGateway } from './gateway';

const dirs: string[] = [];
const gateways: DockerGateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-docker-gw-'));
  dirs.push(d);
  return d;
}

// Backends nobody answers: these requests never reach them.
const backends = () => createBackends(() => ['unix:/nonexistent/berth.sock']);

function get(socketPath: string, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, method, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('DockerGateway', () => {
  it('serves _ping on a 0660 socket with any version prefix; unknown paths and swarm answer Docker errors', async () => {
    const dir = tmp();
    const socket = join(dir, 'docker.sock');
    const g = await DockerGateway.start({ backends: backends(), paths: { root: dir, run: dir }, log: createLogger('docker-api-test'), socket });
    gateways.push(g);
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    for (const p of ['/_ping', '/v1.41/_ping', '/v1.24/_ping', '/v1.50/_ping']) {
      const r = await get(socket, 'GET', p);
      expect(r).toMatchObject({ status: 200, body: 'OK' });
      expect(r.headers['api-version']).toBe('1.41');
    }
    const head = await get(socket, 'HEAD', '/_ping');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const nf = await get(socket, 'GET', '/v1.41/nothing/here');
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.body)).toEqual({ message: 'page not found' });
    const sw = await get(socket, 'POST', '/v1.41/swarm/init');
    expect(sw.status).toBe(501);
    expect(JSON.parse(sw.body).message).toBe('swarm mode is not supported by berth');
    const bad = await get(socket, 'GET', '/containers/json?filters=%7Bnope');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/invalid filters/);
    expect(g.requests).toBeGreaterThanOrEqual(8);
  });

  it('refuses plain TCP, naming the TLS variables', async () => {
    const dir = tmp();
    const e = await DockerGateway.start({
      backends: backends(), paths: { root: dir, run: dir }, log: createLogger('docker-api-test'), socket: join(dir, 'docker.sock'), tcp: '127.0.0.1:0',
    }).catch((x: unknown) => x);
    expect(isInvalidArgument(e)).toBe(true);
    expect((e as Error).message).toMatch(/BERTH_DOCKER_API_TLS_CERT/);
  });

  it('serves TCP with mutual TLS: a client without a certificate is turned away, one the CA signed is answered', async () => {
    const dir = tmp();
    const ssl = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=berth-test-ca');
    for (const who of ['server', 'client']) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'client'}`);
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1');
    }
    const g = await DockerGateway.start({
      backends: backends(), paths: { root: dir, run: dir }, log: createLogger('docker-api-test'), socket: join(dir, 'docker.sock'), tcp: '127.0.0.1:0',
      tls: { cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), ca: join(dir, 'ca.pem') },
    });
    gateways.push(g);
    const tcp = g.listeners.find((l) => l.startsWith('tcp://'))!;
    const port = Number(tcp.split(':').pop());
    const ping = (withCert: boolean) => new Promise<number>((resolve, reject) => {
      const req = httpsRequest({
        host: '127.0.0.1', port, path: '/_ping', ca: readFileSync(join(dir, 'ca.pem')), checkServerIdentity: () => undefined,
        ...(withCert ? { cert: readFileSync(join(dir, 'client.pem')), key: readFileSync(join(dir, 'client.key')) } : {}),
      }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.end();
    });
    await expect(ping(false)).rejects.toThrow();
    expect(await ping(true)).toBe(200);
  });
});
