// Finding or starting the NATS server the stack publishes events to.
// NATS_URL wins; otherwise a server already listening on 127.0.0.1:4222 is
// used; otherwise a private nats-server from Debian's package is started
// with JetStream on and its store under BERTH_ROOT/nats, and stopped with the
// stack.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
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
  url: string;
  /** Set when berth started the server (and must stop it). */
  process?: ChildProcess;
}

/**
 * Resolves the NATS URL for a stack. With `detached`, a private server
 * started here outlives this process (daemon up); its pid is returned.
 */
export async function resolveNats(paths: BerthPaths, opts: { detached?: boolean; port?: number } = {}): Promise<NatsChoice> {
  if (process.env.NATS_URL) return { url: process.env.NATS_URL };
  const port = opts.port ?? DEFAULT_NATS_PORT;
  if (await portOpen(port)) return { url: `nats://127.0.0.1:${port}` };
  const store = join(paths.root, 'nats');
  mkdirSync(store, { recursive: true });
  mkdirSync(paths.run, { recursive: true });
  const logFd = openSync(join(paths.run, 'nats-server.log'), 'a');
  const child = spawn('nats-server', ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)], {
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
  return { url: `nats://127.0.0.1:${port}`, process: child };
}
