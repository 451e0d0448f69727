// gRPC over TCP is mutual TLS (tls.ts), checked with certificates openssl
// makes here (a CA, a server certificate for 127.0.0.1, a client certificate):
// a client with its certificate is served, one without (or in plaintext) is
// refused; a TCP listener without TLS files refuses to start unless the
// operator asks for plaintext.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { testingV1 } from '@berth/proto';
import { ServiceHost, createClient, socketPath, tempPaths, type AsyncHandlers, type TempPaths } from './index';
import { createClient as createEntryClient } from './client-entry';

const SERVICE = 'berth.testing.v1.Echo';
const ENV_KEYS = ['BERTH_TLS_CERT', 'BERTH_TLS_KEY', 'BERTH_TLS_CA', 'BERTH_ECHO_TLS_CERT', 'BERTH_ECHO_TLS_KEY', 'BERTH_ECHO_TLS_CA', 'BERTH_ECHO_TCP_INSECURE'];

const handlers: AsyncHandlers<testingV1.EchoHandlers> = {
  Say: async (req) => ({ message: req.message, server: 'tls' }),
  SayOnce: async (req) => ({ message: req.message, server: 'tls' }),
  Stream: async () => undefined,
  Collect: async () => ({ message: '', server: 'tls' }),
  Chat: async () => undefined,
};

let pki: string;
const pem = (n: string) => join(pki, n);

/** CA, server (SAN 127.0.0.1) and client certificates, by openssl. */
function makePki(): void {
  pki = mkdtempSync(join(tmpdir(), 'berth-tls-'));
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth test CA');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    writeFileSync(pem(`${name}.ext`), `${ext}\n`);
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=berth ${name}`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
}

describe('gRPC over TCP', () => {
  let paths: TempPaths;
  const hosts: ServiceHost[] = [];
  const closers: { close(): void }[] = [];
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

  beforeAll(() => makePki(), 60_000);
  afterEach(async () => {
    closers.splice(0).forEach((c) => c.close());
    await Promise.all(hosts.splice(0).map((h) => h.stop(1000)));
    paths?.cleanup();
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  const start = async () => {
    const host = await ServiceHost.start<testingV1.EchoHandlers>({ name: 'echo', service: SERVICE, handlers, paths, tcp: '127.0.0.1:0', metrics: false });
    hosts.push(host);
    return host.info.tcp!;
  };
  const say = async (address: string, creds: grpc.ChannelCredentials): Promise<string> => {
    const Ctor = grpc.makeGenericClientConstructor({
      Say: { path: `/${SERVICE}/Say`, requestStream: false, responseStream: false, requestSerialize: (x: Buffer) => x, requestDeserialize: (x: Buffer) => x, responseSerialize: (x: Buffer) => x, responseDeserialize: (x: Buffer) => x },
    }, 'Echo');
    const c = new Ctor(address, creds);
    closers.push(c);
    // An empty request (all defaults) is a valid EchoRequest; any answer means the call went through.
    return new Promise((resolve, reject) => {
      (c as unknown as { Say(r: Buffer, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void): void })
        .Say(Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e) => (e ? reject(e) : resolve('ok')));
    });
  };

  it('refuses to listen on TCP without TLS files, naming what to set, and leaves nothing behind', async () => {
    paths = tempPaths();
    const err = await start().catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/BERTH_TLS_CERT.*BERTH_TLS_KEY.*BERTH_TLS_CA.*BERTH_ECHO_TCP_INSECURE=1/s);
    expect(existsSync(socketPath('echo', paths))).toBe(false);
  });

  it('serves a client with a certificate its CA signed, and refuses one without or in plaintext', async () => {
    paths = tempPaths();
    Object.assign(process.env, { BERTH_TLS_CERT: pem('server.pem'), BERTH_TLS_KEY: pem('server.key'), BERTH_TLS_CA: pem('ca.pem') });
    const address = await start();
    // The berth client: the same variables name the client's own certificate (here the client one).
    Object.assign(process.env, { BERTH_ECHO_TLS_CERT: pem('client.pem'), BERTH_ECHO_TLS_KEY: pem('client.key') });
    const c = createClient<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, [`tcp://${address}`], { timeoutMs: 5000, tlsFor: 'echo' });
    closers.push(c);
    expect(await c.Say({ message: 'over mTLS', delayMs: 0, failWith: '' })).toMatchObject({ message: 'over mTLS', server: 'tls' });
    // The CLI's client entry takes grpc-js, and these files, for a tcp:// address (berth -H tcp://...).
    const cli = createEntryClient<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, [`tcp://${address}`], { timeoutMs: 5000, tlsFor: 'echo' });
    closers.push(cli);
    expect(await cli.Say({ message: 'from the CLI', delayMs: 0, failWith: '' })).toMatchObject({ message: 'from the CLI' });

    const ca = readFileSync(pem('ca.pem'));
    await expect(say(address, grpc.credentials.createSsl(ca))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    await expect(say(address, grpc.credentials.createInsecure())).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    // A certificate from another CA is refused too.
    const other = mkdtempSync(join(tmpdir(), 'berth-tls-other-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k', '-out', 'c', '-days', '1', '-subj', '/CN=stranger'], { cwd: other, stdio: 'pipe' });
      await expect(say(address, grpc.credentials.createSsl(ca, readFileSync(join(other, 'k')), readFileSync(join(other, 'c'))))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    expect(await say(address, grpc.credentials.createSsl(ca, readFileSync(pem('client.key')), readFileSync(pem('client.pem'))))).toBe('ok');
  }, 30_000);

  it('a berth client refuses a TCP address without TLS files; plaintext only when the operator says so on both sides', async () => {
    paths = tempPaths();
    expect(() => createClient(SERVICE, ['tcp://127.0.0.1:1'], { tlsFor: 'echo' })).toThrow(/BERTH_TLS_CERT.*BERTH_ECHO_TCP_INSECURE=1/s);
    process.env.BERTH_ECHO_TCP_INSECURE = '1';
    const address = await start();
    const c = createClient<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, [address], { timeoutMs: 5000, tlsFor: 'echo' });
    closers.push(c);
    expect(await c.Say({ message: 'plain', delayMs: 0, failWith: '' })).toMatchObject({ message: 'plain' });
  }, 30_000);
});

