// The stack as an operator runs it: `berth daemon up` in both layouts brings
// every service (SERVICE_NAMES) to SERVING, each answers Health and reflection on its
// socket (also to a client generated from protos/ by Python's grpc tooling),
// /metrics parses, `daemon down` leaves nothing running, and a service
// restarted alone is reconnected to by its clients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { daemonDown, daemonStatus, daemonUp, readDaemonRecord } from '@berth/daemon';
import { GRPC_SERVICE, SERVICE_NAMES, serviceEnvKey, checkPrometheusText, createClient, socketPath, waitServing, type BerthPaths } from '@berth/kit';
import { startNatsServer, type NatsServerHandle } from '@berth/events';
import { NetworkManager, networksOptions } from '@berth/networks';
import { removeCgroupParent } from '@berth/cgroups';
import { randomBytes } from 'node:crypto';

const ROOT = resolve(__dirname, '..');
const PY_CLIENT = join(__dirname, 'fixtures', 'health_client.py');

// Everything the stack creates on the host carries this run's own names, so
// it collides with nothing here and teardown removes exactly it.
const TAG = randomBytes(3).toString('hex');
function stackEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    BERTH_CGROUP_PARENT: `berth-test-${TAG}`,
    BERTH_DEFAULT_BRIDGE: `bt-s${TAG}`,
    BERTH_DEFAULT_SUBNET: `10.219.${150 + (parseInt(TAG, 16) % 40)}.0/24`,
    BERTH_BRIDGE_PREFIX: `bts${TAG.slice(0, 4)}-`,
    BERTH_CHAIN_PREFIX: `BERTH-S${TAG}`,
    BERTH_DNS_UPSTREAMS: '127.0.0.1:9',
  };
  for (const s of SERVICE_NAMES) env[serviceEnvKey(s, 'METRICS')] = '0';
  return env;
}

async function purgeHostState(paths: BerthPaths): Promise<void> {
  const m = new NetworkManager(networksOptions(paths, { ...process.env, ...stackEnv() }));
  await m.start();
  await m.purge();
  await m.close();
  removeCgroupParent(`berth-test-${TAG}`);
}

/** Running (a zombie waiting for its parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function reflectionServices(socket: string): Promise<string[]> {
  const c = createClient<Record<string, never>, Record<string, never>>('grpc.reflection.v1.ServerReflection', [`unix:${socket}`]);
  try {
    const stream = (c as unknown as { ServerReflectionInfo(): NodeJS.ReadWriteStream & { write(m: unknown): void; end(): void } }).ServerReflectionInfo();
    const reply = await new Promise<{ listServicesResponse?: { service: { name: string }[] } }>((res, rej) => {
      stream.once('data', res);
      stream.once('error', rej);
      stream.write({ listServices: '' });
    });
    stream.end();
    return reply.listServicesResponse?.service.map((s) => s.name) ?? [];
  } finally {
    c.close();
  }
}

describe.each([
  ['all-in-one', false],
  ['split', true],
] as const)('berth daemon up (%s)', (layout, split) => {
  let base: string;
  let paths: BerthPaths;
  let nats: NatsServerHandle;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'berth-stack-'));
    paths = { root: join(base, 'root'), run: join(base, 'run') };
    nats = await startNatsServer();
    process.env.NATS_URL = nats.url;
    await daemonUp({ split, paths, env: stackEnv(), timeoutMs: 90_000 });
  });

  afterAll(async () => {
    await daemonDown({ paths }).catch(() => undefined);
    await purgeHostState(paths).catch(() => undefined);
    await nats?.stop();
    delete process.env.NATS_URL;
    rmSync(base, { recursive: true, force: true });
  });

  it('brings every service to SERVING, each on its own socket', async () => {
    const record = readDaemonRecord(paths)!;
    expect(record.layout).toBe(layout);
    expect(record.processes).toHaveLength(split ? SERVICE_NAMES.length : 1);
    const status = await daemonStatus(paths);
    expect(status.map((s) => [s.name, s.health])).toEqual(SERVICE_NAMES.map((n) => [n, 'SERVING']));
    for (const s of status) {
      expect(s.pid).toBeGreaterThan(0);
      expect(s.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    }
    if (!split) expect(new Set(status.map((s) => s.pid)).size).toBe(1);
    else expect(new Set(status.map((s) => s.pid)).size).toBe(SERVICE_NAMES.length);
  });

  it('answers reflection with its own service on every socket', async () => {
    for (const s of SERVICE_NAMES) {
      const names = await reflectionServices(socketPath(s, paths));
      expect(names).toContain(GRPC_SERVICE[s]);
      expect(names).toContain('grpc.health.v1.Health');
    }
  });

  it('answers a Python client generated from protos/ (Health and reflection)', () => {
    const sockets = SERVICE_NAMES.map((s) => `${GRPC_SERVICE[s]}=${socketPath(s, paths)}`);
    const out = execFileSync('/usr/bin/python3', [PY_CLIENT, join(ROOT, 'protos'), ...sockets], { encoding: 'utf8' });
    for (const s of SERVICE_NAMES) expect(out).toContain(`${GRPC_SERVICE[s]} SERVING reflection-ok`);
  });

  it('serves /metrics that Prometheus parses, with RPC metrics', async () => {
    const status = await daemonStatus(paths);
    for (const s of status) {
      const text = await (await fetch(s.metricsUrl!)).text();
      checkPrometheusText(text);
      expect(text).toContain('process_resident_memory_bytes');
    }
  });

  it('reconnects clients to a service restarted alone (by the supervisor)', async () => {
    if (!split) {
      // All-in-one: restart means the whole process; covered by heal.test.ts.
      return;
    }
    const record = readDaemonRecord(paths)!;
    const images = record.processes.find((p) => p.name === 'images')!;
    const sock = socketPath('images', paths);
    const health = createClient<Record<string, never>, Record<string, never>>('grpc.health.v1.Health', [`unix:${sock}`]);
    const check = () => (health as unknown as { Check(r: { service: string }): Promise<{ status: string }> }).Check({ service: GRPC_SERVICE.images });
    try {
      await expect(check()).resolves.toMatchObject({ status: 'SERVING' });
      process.kill(images.pid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(images.pid); i++) await new Promise((r) => setTimeout(r, 50));
      expect(alive(images.pid)).toBe(false);
      // The supervisor starts it again and records the new pid.
      let pid = images.pid;
      for (let i = 0; i < 600 && pid === images.pid; i++) {
        await new Promise((r) => setTimeout(r, 50));
        pid = readDaemonRecord(paths)!.processes.find((p) => p.name === 'images')!.pid;
      }
      expect(pid).not.toBe(images.pid);
      await waitServing([`unix:${sock}`], GRPC_SERVICE.images, 30_000);
      await expect(check()).resolves.toMatchObject({ status: 'SERVING' });
    } finally {
      health.close();
    }
  });

  it('daemon down stops every process and removes the sockets', async () => {
    const record = readDaemonRecord(paths)!;
    await daemonDown({ paths });
    for (const p of record.processes) expect(alive(p.pid)).toBe(false);
    expect(alive(record.supervisorPid!)).toBe(false);
    for (const s of SERVICE_NAMES) expect(existsSync(socketPath(s, paths))).toBe(false);
    expect(readDaemonRecord(paths)).toBeUndefined();
    void readFileSync;
  });
});
