// Confinement on the real stack (issue 12): nothing of berth is open to other
// local users, and no container reaches the host's loopback.
//  - another user (uid/gid 65534, no groups, via setpriv) can neither read
//    nor reach a container's root, its upper dir, its volume or engine.db,
//    and cannot run a setuid binary the container placed in its root;
//  - a state root an older berth left open (0755/0711, engine.db 0644) is
//    closed when the stack starts;
//  - a container sending hand-built frames for 127.0.0.1 to the bridge gets
//    nothing through, while `-p 127.0.0.1:X:80` still serves the host;
//  - berth's own NATS server refuses a client without its token, while the
//    services publish with it (berth events replays a container's events).
// The stack's temp base is made 0755 (as /var/lib is), so only berth's own
// modes keep the other user out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { connect } from 'nats';
import { mountsUnder, startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const SUBNET = 236; // 10.219.236.0/24: this file's

/** Runs argv as uid/gid 65534 with no supplementary groups: another local user. */
function asNobody(argv: string[]): { status: number | null; out: string } {
  const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', ...argv], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const modeOf = (p: string) => statSync(p).mode & 0o7777;
const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 2000 }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => { body += d.toString(); });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('confinement', () => {
  let s: CliStack;
  let base: string;
  const berth = (...args: string[]) => s.berth(args);

  beforeAll(async () => {
    // No NATS_URL: daemon up starts berth's own server, with its token.
    s = await startCliStack(false, SUBNET, { ownNats: true });
    base = dirname(s.paths.root);
    chmodSync(base, 0o755);
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 180_000);

  afterAll(async () => {
    await s?.stop();
  }, 180_000);

  /** The paths another user must not reach, for a running container that made /suid and a file in its volume. */
  async function containerPaths(name: string, volume: string) {
    const id = (await berth('inspect', '--format', '{{.Id}}', name)).stdout.trim();
    const mountsDir = join(s.paths.root, 'layers', 'mounts');
    const rootfs = await until('the container root', () => mountsUnder(mountsDir).find((m) => existsSync(join(m, 'suid')) && (statSync(join(m, 'suid')).mode & 0o4000) !== 0), 30_000);
    const snaps = join(s.paths.root, 'layers', 'snapshots');
    const upper = readdirSync(snaps).map((d) => join(snaps, d, 'fs')).find((d) => existsSync(join(d, 'suid')));
    expect(upper, 'the container\'s upper dir').toBeDefined();
    return {
      id, rootfs, upper: upper!,
      volumeFile: join(s.paths.root, 'engine', 'volumes', volume, '_data', 'f'),
      db: join(s.paths.root, 'engine', 'engine.db'),
    };
  }

  function expectClosed(p: Awaited<ReturnType<typeof containerPaths>>): void {
    for (const f of [join(p.rootfs, 'etc', 'passwd'), join(p.upper, 'suid'), p.volumeFile, p.db]) {
      expect(existsSync(f), f).toBe(true);
      const r = asNobody(['cat', f]);
      expect(r.status, `${f} readable by another user: ${r.out}`).not.toBe(0);
    }
    for (const d of [p.rootfs, p.upper, dirname(p.volumeFile)]) {
      expect(asNobody(['ls', d]).status, `${d} listable by another user`).not.toBe(0);
    }
    // The setuid binary the container placed: on an open root this runs as host root.
    // Through sh: setpriv's own execvp of it was seen to succeed where a process of that user gets EACCES.
    const run = asNobody(['sh', '-c', '"$0" true', join(p.rootfs, 'suid')]);
    expect(run.status, `setuid binary ran: ${run.out}`).not.toBe(0);
    expect(run.out).toMatch(/Permission denied/);
    for (const d of [s.paths.root, join(s.paths.root, 'layers'), join(s.paths.root, 'layers', 'mounts'), join(s.paths.root, 'layers', 'snapshots'),
      join(s.paths.root, 'engine'), join(s.paths.root, 'engine', 'volumes'), join(s.paths.root, 'engine', 'containers'), join(s.paths.root, 'images')]) {
      expect(modeOf(d) & 0o077, `${d} is ${modeOf(d).toString(8)}`).toBe(0);
    }
    for (const f of [p.db, `${p.db}-wal`, `${p.db}-shm`]) if (existsSync(f)) expect(modeOf(f), f).toBe(0o600);
  }

  it('another user reaches no container root, upper dir, volume or engine.db, and cannot run a setuid binary a container placed', async () => {
    // The control: the same user reads a world-readable file next to the state root.
    writeFileSync(join(base, 'readable'), 'x', { mode: 0o644 });
    expect(asNobody(['cat', join(base, 'readable')]).status).toBe(0);

    expectOk(await berth('run', '-d', '--name', 'conf1', '-e', 'CONF_SECRET=hunter2-secret', '-v', 'confvol:/data', 'busybox',
      'sh', '-c', 'echo v > /data/f; cp /bin/busybox /suid; chmod 4755 /suid; sleep 600'));
    const p = await containerPaths('conf1', 'confvol');
    expect(readFileSync(p.db).includes('hunter2-secret') || readFileSync(`${p.db}-wal`).includes('hunter2-secret'), 'the -e value is in the engine db').toBe(true);
    expectClosed(p);
  }, 120_000);

  it('closes a state root an older berth left open when the stack starts', async () => {
    const p = await containerPaths('conf1', 'confvol');
    expectOk(await berth('daemon', 'down'));
    const r = s.paths.root;
    for (const d of [r, join(r, 'engine'), join(r, 'engine', 'volumes'), join(r, 'engine', 'volumes', 'confvol'), join(r, 'images'), join(r, 'namespaces')]) chmodSync(d, 0o755);
    for (const d of [join(r, 'layers'), join(r, 'layers', 'mounts'), join(r, 'layers', 'snapshots')]) chmodSync(d, 0o711);
    for (const f of [p.db, `${p.db}-wal`, `${p.db}-shm`]) if (existsSync(f)) chmodSync(f, 0o644);
    expect(asNobody(['cat', p.volumeFile]).status, 'the old modes are open').toBe(0);
    expectOk(await berth('daemon', 'up'));
    expectClosed(p);
    // The container kept running through it.
    expect((await berth('inspect', '--format', '{{.State.Running}}', 'conf1')).stdout.trim()).toBe('true');
  }, 180_000);

  it('berth\'s own NATS refuses a client without its token; the services publish with it', async () => {
    const record = JSON.parse(readFileSync(join(s.paths.run, 'daemon.json'), 'utf8')) as { natsUrl: string; natsPid?: number };
    expect(record.natsPid, 'daemon up started its own nats-server').toBeDefined();
    const tokenFile = join(s.paths.root, 'nats', 'auth');
    expect(modeOf(tokenFile)).toBe(0o600);
    expect(asNobody(['cat', tokenFile]).status).not.toBe(0);
    await expect(connect({ servers: record.natsUrl, timeout: 3000, reconnect: false })).rejects.toThrow(/authorization/i);
    // Another user cannot learn the token from the server's command line either.
    expect(readFileSync(`/proc/${record.natsPid}/cmdline`, 'utf8')).not.toContain(readFileSync(tokenFile, 'utf8').trim());
    const since = String(Math.floor(Date.now() / 1000) - 1);
    expectOk(await berth('run', '--rm', '--name', 'nats-probe', 'busybox', 'true'));
    const ev = await until('the container\'s events', async () => {
      const r = await berth('events', '--since', since, '--until', String(Date.now() / 1000 + 0.5), '--filter', 'container=nats-probe', '--format', '{{.Action}}');
      return r.stdout.includes('die') ? r.stdout : undefined;
    }, 30_000);
    expect(ev).toContain('start');
  }, 90_000);

  it('a container on the bridge gets nothing to the host loopback, while -p 127.0.0.1:X:80 still serves the host', async () => {
    const probe = join(base, 'loopback_probe');
    execFileSync('cc', ['-static', '-O2', '-o', probe, resolve(__dirname, 'fixtures', 'loopback_probe.c')]);
    expectOk(await berth('run', '-d', '--name', 'prober', '--cap-add', 'NET_RAW', '-v', `${probe}:/probe:ro`, 'busybox', 'sleep', '600'));
    const ip = (await berth('inspect', '--format', '{{.NetworkSettings.IPAddress}}', 'prober')).stdout.trim();
    const gateway = (await berth('inspect', '--format', '{{.NetworkSettings.Gateway}}', 'prober')).stdout.trim();
    expect(ip).toMatch(new RegExp(`^10\\.219\\.${SUBNET}\\.`));
    const bridgeMac = readFileSync(`/sys/class/net/${s.bridge}/address`, 'utf8').trim();

    const listen = async (host: string) => {
      const sock: Socket = createSocket('udp4');
      const got: string[] = [];
      sock.on('message', (m) => got.push(m.toString()));
      await new Promise<void>((r) => sock.bind(0, host, r));
      return { sock, got, port: sock.address().port };
    };
    const lo = await listen('127.0.0.1');
    const control = await listen(gateway);
    try {
      const r = await berth('exec', 'prober', '/probe', 'eth0', bridgeMac, ip, String(lo.port), gateway, String(control.port));
      expectOk(r);
      // The control datagrams were sent after the loopback ones, over the same path.
      await until('the control datagram', () => (control.got.length > 0 ? true : undefined), 10_000);
      expect(lo.got, 'a container reached a service on the host\'s 127.0.0.1').toEqual([]);
    } finally {
      lo.sock.close();
      control.sock.close();
    }

    // Publishing on the host's loopback keeps working.
    const www = join(base, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'loopback ok\n', { mode: 0o644 });
    const port = await freePort();
    expectOk(await berth('run', '-d', '--name', 'lo-web', '-p', `127.0.0.1:${port}:80`, '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'));
    const page = await until('the published page', async () => {
      try {
        const g = await httpGet(port, '/index.html');
        return g.status === 200 ? g.body : undefined;
      } catch {
        return undefined;
      }
    }, 20_000);
    expect(page).toBe('loopback ok\n');
  }, 120_000);
});
