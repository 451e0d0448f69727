// Test and benchmark support: a real registry (Debian's docker-registry,
// distribution 2.8) on 127.0.0.1, in a temp dir, optionally behind htpasswd.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent as UndiciAgent, fetch as undiciFetch } from 'undici';

export const run = promisify(execFile);

export interface TestRegistry {
  host: string;
  port: number;
  /** Storage root (docker/registry/v2/...). */
  dataDir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface TokenAuthConfig {
  /** Token endpoint the registry sends clients to. */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate whose key signs the tokens. */
  certPem: string;
}

export async function startRegistry(
  opts: { htpasswd?: { user: string; password: string }; token?: TokenAuthConfig; /** Serve HTTPS with this PEM pair. */ tls?: { certPem: string; keyPem: string } } = {},
): Promise<TestRegistry> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'berth-registry-'));
  const port = await freePort();
  const dataDir = join(dir, 'data');
  let auth = '';
  if (opts.htpasswd) {
    const { stdout } = await run('htpasswd', ['-Bbn', opts.htpasswd.user, opts.htpasswd.password]);
    await fs.writeFile(join(dir, 'htpasswd'), stdout);
    auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  if (opts.token) {
    await fs.writeFile(join(dir, 'token-ca.pem'), opts.token.certPem);
    auth = `auth:\n  token:\n    realm: ${opts.token.realm}\n    service: ${opts.token.service}\n    issuer: ${opts.token.issuer}\n    rootcertbundle: ${join(dir, 'token-ca.pem')}\n`;
  }
  let tls = '';
  if (opts.tls) {
    await fs.writeFile(join(dir, 'tls-cert.pem'), opts.tls.certPem);
    await fs.writeFile(join(dir, 'tls-key.pem'), opts.tls.keyPem, { mode: 0o600 });
    tls = `  tls:\n    certificate: ${join(dir, 'tls-cert.pem')}\n    key: ${join(dir, 'tls-key.pem')}\n`;
  }
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${dataDir}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${tls}${auth}`;
  await fs.writeFile(join(dir, 'config.yml'), config);
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = opts.tls
        ? await undiciFetch(`https://127.0.0.1:${port}/v2/`, { dispatcher: new UndiciAgent({ connect: { rejectUnauthorized: false } }) })
        : await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: `127.0.0.1:${port}`, port, dataDir, stop };
}

/** skopeo copy with TLS checks off on both sides (the test registries are plain HTTP). */
export async function skopeoCopy(src: string, dest: string, extra: string[] = []): Promise<void> {
  await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, src, dest], { maxBuffer: 16 << 20 });
}
