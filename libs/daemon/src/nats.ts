// Finding or starting the NATS server the stack publishes events to.
//
// NATS_URL set: that server, as the operator configured it (credentials in
// the URL, NATS_TOKEN or NATS_CREDS: @berth/events connection.ts).
//
// Otherwise berth's own nats-server (Debian's package) on 127.0.0.1:4222,
// JetStream on, store under BERTH_ROOT/nats, and never open to other local
// users: at its first start a random token is written to BERTH_ROOT/nats/auth
// (0600) and the server's config (BERTH_ROOT/nats/nats-server.conf, 0600,
// never the command line, which every user can read in /proc) requires it.
// Services read the token from that file (NATS_TOKEN_FILE).
//
// Something already listening on 127.0.0.1:4222 is adopted only when it is
// that server from an earlier start: a root process running nats-server with
// this root's config (found through /proc/net/tcp and the socket's owner)
// that accepts the token. Anything else there is a stranger's (another
// user's server, open or not, or one squatting the port): berth neither
// adopts it, which would publish every container's events (names, labels,
// exit codes) where that user reads them, nor refuses to start, which would
// let any local user stop berth by binding 4222 first. It starts its own
// server on a free loopback port instead and says so (NatsChoice.displaced;
// daemon up prints the URL, the record and the services' NATS_URL carry it).
// To use a server of one's own, set NATS_URL (and its credentials).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { FailedPreconditionError } from '@berth/errors';
import { natsFromEnv, natsTokenPath, probeNatsAuth, type NatsAuth } from '@berth/events';
import type { BerthPaths } from '@berth/kit';

export const DEFAULT_NATS_PORT = 4222;

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    const t = setTimeout(() => { s.destroy(); resolve(false); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(true); });
    s.once('error', () => { clearTimeout(t); resolve(false); });
  });
}

export interface NatsChoice {
  /** Server URL(s) without credentials (safe to print and record). */
  url: string;
  auth: NatsAuth;
  /** berth's own server: the file holding its token (services get it as NATS_TOKEN_FILE). */
  tokenFile?: string;
  /** Set when berth started the server (and must stop it). */
  process?: ChildProcess;
  /** Why berth's server is not on the default port: what held it. */
  displaced?: string;
}

/** The pid of the process whose socket listens on 127.0.0.1:`port` (/proc/net/tcp, then every /proc/<pid>/fd). */
function loopbackListener(port: number): number | undefined {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let inode: string | undefined;
  try {
    inode = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
      .find((f) => f[1] === local && f[3] === '0A')?.[9];
  } catch {
    return undefined;
  }
  if (!inode) return undefined;
  const target = `socket:[${inode}]`;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return Number(pid);
      } catch { /* closed meanwhile */ }
    }
  }
  return undefined;
}

/** True when `pid` is a root process running `nats-server -c <config>`. */
function isOurServer(pid: number, config: string): boolean {
  try {
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return uid === '0' && argv.length === 3 && /(^|\/)nats-server$/.test(argv[0]!) && argv[1] === '-c' && argv[2] === config;
  } catch {
    return false;
  }
}

/** A TCP port free on 127.0.0.1 right now. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** berth's own server's token: made once (0600), read afterwards. */
export function ensureNatsToken(paths: BerthPaths): { token: string; file: string } {
  const dir = join(paths.root, 'nats');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = natsTokenPath(paths.root);
  try {
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  chmodSync(file, 0o600);
  const token = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(token)) throw new FailedPreconditionError(`${file} does not hold a token berth wrote; remove it so a new one is made`, { field: 'nats' });
  return { token, file };
}

/** The nats-server config berth's own server runs with (0600: it holds the token). */
export function writeNatsConfig(paths: BerthPaths, port: number, token: string): string {
  const dir = join(paths.root, 'nats');
  const file = join(dir, 'nats-server.conf');
  const text = [
    '# Written by berth at every start of its own server (libs/daemon nats.ts).',
    `listen: ${JSON.stringify(`127.0.0.1:${port}`)}`,
    `jetstream { store_dir: ${JSON.stringify(dir)} }`,
    `authorization { token: ${JSON.stringify(token)} }`,
    '',
  ].join('\n');
  writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  // rename keeps the 0600 inode; a config an older run left is replaced whole.
  renameSync(`${file}.tmp`, file);
  return file;
}

/**
 * Resolves the NATS server for a stack. With `detached`, a private server
 * started here outlives this process (daemon up); its pid is returned.
 */
export async function resolveNats(paths: BerthPaths, opts: { detached?: boolean; port?: number } = {}): Promise<NatsChoice> {
  if (process.env.NATS_URL) {
    const t = natsFromEnv(process.env, paths.root);
    return { url: t.servers, auth: t.auth };
  }
  let port = opts.port ?? DEFAULT_NATS_PORT;
  const { token, file: tokenFile } = ensureNatsToken(paths);
  const configPath = join(paths.root, 'nats', 'nats-server.conf');
  let displaced: string | undefined;
  if (await portOpen(port)) {
    const url = `nats://127.0.0.1:${port}`;
    const pid = loopbackListener(port);
    if (pid !== undefined && isOurServer(pid, configPath) && (await probeNatsAuth(url, token)) === 'ours') return { url, auth: { token }, tokenFile };
    const who = await probeNatsAuth(url, token);
    displaced = `127.0.0.1:${port} is held by ${who === 'open' ? 'a NATS server without authentication' : 'a process'} berth did not start${pid !== undefined ? ` (pid ${pid})` : ''}`;
    port = await freeLoopbackPort();
  }
  const url = `nats://127.0.0.1:${port}`;
  const config = writeNatsConfig(paths, port, token);
  mkdirSync(paths.run, { recursive: true });
  const logFd = openSync(join(paths.run, 'nats-server.log'), 'a', 0o600);
  const child = spawn('nats-server', ['-c', config], {
    stdio: ['ignore', logFd, logFd],
    detached: opts.detached ?? false,
  });
  closeSync(logFd);
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start nats-server (apt-get install nats-server): ${e.message}`))));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await Promise.race([portOpen(port), spawnError]);
    if (up) break;
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}; see ${join(paths.run, 'nats-server.log')}`);
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on 127.0.0.1:${port} within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (opts.detached) child.unref();
  return { url, auth: { token }, tokenFile, process: child, ...(displaced ? { displaced } : {}) };
}

/**
 * Environment for the stack's service processes: berth's own server's URL
 * and token file, or nothing when the operator set NATS_URL (it, and any
 * NATS_TOKEN/NATS_CREDS, pass through as they are, credentials included).
 */
export function natsEnv(paths: BerthPaths, url: string): Record<string, string> {
  if (process.env.NATS_URL) return {};
  return { NATS_URL: url, NATS_TOKEN_FILE: natsTokenPath(paths.root) };
}
