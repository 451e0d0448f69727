// A private nats-server (Debian's package) with JetStream for tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerHandle {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
  /** Stops and starts again on the same port and store. */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = netConnect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts nats-server -js on a free loopback port with a temp store. */
export async function startNatsServer(): Promise<NatsServerHandle> {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'berth-nats-'));
  let proc: ChildProcess;
  const launch = async () => {
    proc = spawn('nats-server', ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await waitPort(port, 10_000);
  };
  const kill = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get process() { return proc; },
    stop: async () => {
      await kill();
      rmSync(store, { recursive: true, force: true });
    },
    restart: async () => {
      await kill();
      await launch();
    },
  };
}

/**
 * Waits until the BERTH_EVENTS stream exists on a server (a publisher
 * creates it as its last connect step), so a test subscribes after it.
 */
export async function waitForEventsStream(natsUrl: string, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: natsUrl, timeout: 3000 });
  try {
    const jsm = await nc.jetstreamManager();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await jsm.streams.info('BERTH_EVENTS');
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  } finally {
    await nc.close();
  }
}
