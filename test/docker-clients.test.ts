// Docker SDKs and tools other than the CLI, unmodified, against berth's
// Docker Engine API gateway in both layouts: docker-py (Debian's
// python3-docker), docker-compose v1 (Debian's), dockerode and testcontainers
// (npm), including testcontainers' reaper, which bind-mounts the API socket
// into a container and drives the API from inside it. Ryuk's own image is not
// on this machine: a stand-in speaking its protocol (test/fixtures/ryuk) is
// built into a docker-archive here and loaded through the API (docker load).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const DOCKER = '/usr/local/bin/docker';
const FIXTURES = resolve(__dirname, 'fixtures');
const SUBNET_BASE = 180 + (process.pid % 5); // 10.219.180-184 all-in-one, 185-189 split
const RYUK_IMAGE = 'berth-test/ryuk:1';

const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

/** "<step> <json>" lines of a fixture's output, by step. */
function steps(out: string): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const l of out.split('\n').filter(Boolean)) {
    const i = l.indexOf(' ');
    if (i > 0) o[l.slice(0, i)] = JSON.parse(l.slice(i + 1));
  }
  return o;
}

async function tarOf(entries: { name: string; data?: Buffer; mode?: number; linkname?: string; type?: 'file' | 'directory' | 'symlink' }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    p.entry({ name: e.name, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), type, ...(e.linkname ? { linkname: e.linkname } : {}), mtime: new Date(0) }, e.data ?? Buffer.alloc(0));
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A docker-archive of the Ryuk stand-in: host busybox and docker CLI (both static) and the two scripts, one layer. */
async function ryukArchive(): Promise<Buffer> {
  const applets = ['sh', 'nc', 'sleep', 'sort', 'xargs', 'tr', 'ls', 'rm', 'touch', 'mkdir', 'cat', 'echo', 'printf'];
  const layer = await tarOf([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    ...applets.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: '/bin/busybox' })),
    { name: 'bin/docker', data: readFileSync(DOCKER), mode: 0o755 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'ryuk.sh', data: readFileSync(join(FIXTURES, 'ryuk', 'ryuk.sh')), mode: 0o755 },
    { name: 'ryuk-conn.sh', data: readFileSync(join(FIXTURES, 'ryuk', 'ryuk-conn.sh')), mode: 0o755 },
  ]);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2026-01-01T00:00:00Z',
    config: { Cmd: ['/ryuk.sh'], ExposedPorts: { '8080/tcp': {} }, Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '2026-01-01T00:00:00Z', created_by: 'test/docker-clients.test.ts' }],
  }));
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  return tarOf([
    { name: 'layer.tar', data: layer },
    { name: configName, data: config },
    { name: 'manifest.json', data: Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [RYUK_IMAGE], Layers: ['layer.tar'] }])) },
  ]);
}

describe.each([
  ['all-in-one', false, SUBNET_BASE],
  ['split', true, SUBNET_BASE + 5],
] as const)('Docker SDKs and tools through the Docker API gateway (%s)', (_layout, split, subnet) => {
  let s: CliStack;
  let env: NodeJS.ProcessEnv;
  let work: string;
  let sock: string;

  const run = (file: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> =>
    new Promise((res) => {
      const child = spawn(file, args, { env: { ...env, ...o.env }, cwd: o.cwd ?? work, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
      child.on('close', (code, signal) => {
        clearTimeout(t);
        res({ code: code ?? (signal ? 128 : -1), stdout, stderr });
      });
    });
  const docker = (...args: string[]) => run(DOCKER, args);

  beforeAll(async () => {
    s = await startCliStack(split, subnet);
    work = mkdtempSync(join(tmpdir(), 'berth-docker-clients-'));
    sock = join(s.paths.run, 'docker.sock');
    env = { ...s.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(work, '.docker'), HOME: work };
    await until('busybox image', async () => ((await docker('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('docker-py: ping, run (output, ContainerError), detached run with a port, exec, list by label, stats, diff, export, wait, images, networks with labels, volumes, NotFound', async () => {
    const r = await run('/usr/bin/python3', [join(FIXTURES, 'docker_py_flow.py'), `t${subnet}`]);
    expectOk(r);
    const o = steps(r.stdout);
    expect(o).toMatchObject({
      ping: true, api: '1.41', run: 'py-out\npy-err\n', 'run-fail': 3, status: 'running', port: '0.0.0.0',
      exec: [3, 'ex\n'], list: [`py-t${subnet}`], stats: [`/py-t${subnet}`, true, true], wait: 137,
      // Docker's change kinds: 0 modified, 1 added, 2 deleted.
      diff: ['0 /bin', '1 /pyfile', '2 /bin/ls'], export: [true, true, false],
      network: [true, [`pynet-t${subnet}`], { suite: `t${subnet}` }],
      volume: `pyvol-t${subnet}`, notfound: true,
    });
    expect(o['images']).toContain('busybox:latest');
  }, 120_000);

  it('docker-compose v1: up -d (volume shared by two services, a published port, labels, services reaching each other by name), ps, logs, exec, down -v', async () => {
    const dir = join(work, `compose${subnet}`);
    const port = 20000 + subnet * 10 + (process.pid % 10);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, 'docker-compose.yml'), [
      'version: "3.8"',
      'services:',
      '  web:',
      '    image: busybox',
      '    command: ["httpd", "-f", "-p", "80", "-h", "/www"]',
      `    ports: ["127.0.0.1:${port}:80"]`,
      '    volumes: ["data:/www"]',
      '    labels: { role: web }',
      '    environment: { GREETING: hello }',
      '  seed:',
      '    image: busybox',
      '    command: ["sh", "-c", "echo seeded > /www/index.html; echo seed-done"]',
      '    volumes: ["data:/www"]',
      // Another service reaches web by its service name (compose's alias on the project network).
      '  client:',
      '    image: busybox',
      '    command: ["sh", "-c", "until nc -w 2 web 80 </dev/null; do sleep 0.2; done; echo reached-web"]',
      'volumes:',
      '  data: {}',
      'networks:',
      '  default:',
      `    ipam: { config: [{ subnet: "10.219.${subnet + 10}.0/24" }] }`,
      '',
    ].join('\n'));
    const project = `bc${subnet}`;
    const compose = (...a: string[]) => run('docker-compose', ['-p', project, ...a], { cwd: dir });
    try {
      expectOk(await compose('up', '-d'));
      await until('seed exited', async () => ((await docker('inspect', '-f', '{{.State.Status}}', `${project}_seed_1`)).stdout.trim() === 'exited' ? true : undefined));
      const ps = await compose('ps');
      expectOk(ps);
      expect(ps.stdout).toMatch(new RegExp(`${project}_web_1 .* Up .*127\\.0\\.0\\.1:${port}->80/tcp`));
      expect((await compose('logs', '--no-color', 'seed')).stdout).toContain('seed-done');
      await until('client reached web by name', async () => ((await compose('logs', '--no-color', 'client')).stdout.includes('reached-web') ? true : undefined), 30_000);
      const ex = await compose('exec', '-T', 'web', 'sh', '-c', 'cat /www/index.html; echo $GREETING');
      expectOk(ex);
      expect(ex.stdout).toBe('seeded\nhello\n');
      expect((await docker('inspect', '-f', '{{index .Config.Labels "role"}} {{index .Config.Labels "com.docker.compose.service"}}', `${project}_web_1`)).stdout.trim()).toBe('web web');
      expectOk(await compose('down', '-v'));
      expect((await docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`)).stdout.trim()).toBe('');
      expect((await docker('volume', 'ls', '-q')).stdout).not.toContain(`${project}_data`);
    } finally {
      await compose('down', '-v');
    }
  }, 180_000);

  it('dockerode: create, hijacked attach before start (multiplexed frames), wait, inspect, remove', async () => {
    const d = new Docker({ socketPath: sock });
    expect((await d.ping()).toString()).toBe('OK');
    const c = await d.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo dockerode-out; echo dockerode-err >&2; exit 2'], Labels: { suite: 'dockerode' } });
    try {
      const stream = (await c.attach({ stream: true, stdout: true, stderr: true, hijack: true })) as NodeJS.ReadableStream;
      const chunks: Buffer[] = [];
      stream.on('data', (b: Buffer) => chunks.push(b));
      const ended = new Promise((r) => stream.on('end', r));
      const waited = c.wait({ condition: 'next-exit' });
      await c.start();
      expect(await waited).toEqual({ StatusCode: 2, Error: null });
      await ended;
      // Docker's frames: [stream, 0, 0, 0, size BE32] + bytes.
      const raw = Buffer.concat(chunks);
      const frames: [number, string][] = [];
      for (let i = 0; i + 8 <= raw.length;) {
        const size = raw.readUInt32BE(i + 4);
        frames.push([raw[i]!, raw.subarray(i + 8, i + 8 + size).toString()]);
        i += 8 + size;
      }
      expect(frames.filter(([st]) => st === 1).map(([, t]) => t).join('')).toBe('dockerode-out\n');
      expect(frames.filter(([st]) => st === 2).map(([, t]) => t).join('')).toBe('dockerode-err\n');
      const info = await c.inspect();
      expect(info.State.ExitCode).toBe(2);
      expect(info.Config.Labels['suite']).toBe('dockerode');
      expect((await d.listContainers({ all: true, filters: { label: ['suite=dockerode'] } })).map((x) => x.Id)).toEqual([c.id]);
    } finally {
      await c.remove({ force: true });
    }
    await expect(c.inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('dockerode: images list and system df count an image\'s containers and the layer bytes it shares with another image', async () => {
    const d = new Docker({ socketPath: sock });
    const c = await d.createContainer({ Image: 'busybox', Cmd: ['true'] });
    const tag = `bt-shared-t${subnet}`;
    try {
      // A commit of a container that changed nothing: a new image on busybox's layers.
      expectOk(await docker('commit', c.id, `${tag}:v1`));
      const busybox = (await d.getImage('busybox').inspect()).Id;
      const committed = (await d.getImage(`${tag}:v1`).inspect()).Id;
      const layerBytes = (await d.listImages()).find((i) => i.Id === busybox)!;
      expect(layerBytes.Containers).toBeGreaterThanOrEqual(1);
      expect(layerBytes.SharedSize).toBeGreaterThan(0);
      const mine = (await d.listImages({ filters: { reference: [tag] } }))[0]!;
      expect(mine.Id).toBe(committed);
      expect(mine.Containers).toBe(0);
      // Filtered to one image, it still shares busybox's layer with the others.
      expect(mine.SharedSize).toBe(layerBytes.SharedSize);
      const df = (await d.df()) as { Images: { Id: string; SharedSize: number; Containers: number }[] };
      expect(df.Images.find((i) => i.Id === busybox)).toMatchObject({ SharedSize: layerBytes.SharedSize, Containers: layerBytes.Containers });
    } finally {
      await c.remove({ force: true });
      await d.getImage(`${tag}:v1`).remove().catch(() => undefined);
    }
  });

  it('dockerode: volume events from getEvents, a container\'s changes and its export stream', async () => {
    const d = new Docker({ socketPath: sock });
    const vol = `dovol-t${subnet}`;
    const events = (await d.getEvents({ filters: { type: ['volume'], volume: [vol] } })) as NodeJS.ReadableStream & { destroy(): void };
    let text = '';
    events.on('data', (b: Buffer) => { text += b.toString(); });
    const c = await d.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'mkdir -p /out && echo x > /out/f'] });
    try {
      await d.createVolume({ Name: vol, Labels: { suite: 'dockerode' } });
      await d.getVolume(vol).remove();
      await until('volume destroy event', () => (text.includes('"destroy"') ? true : undefined), 15_000);
      const evs = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } });
      expect(evs.map((e) => `${e.Type} ${e.Action} ${e.Actor.ID}`)).toEqual([`volume create ${vol}`, `volume destroy ${vol}`]);
      expect(evs[0]!.Actor.Attributes).toMatchObject({ driver: 'local', suite: 'dockerode' });

      await c.start();
      expect(await c.wait()).toMatchObject({ StatusCode: 0 });
      expect(await c.changes()).toEqual(expect.arrayContaining([{ Path: '/out', Kind: 1 }, { Path: '/out/f', Kind: 1 }]));
      const tar = (await c.export()) as NodeJS.ReadableStream;
      const chunks: Buffer[] = [];
      for await (const b of tar as AsyncIterable<Buffer>) chunks.push(b);
      const raw = Buffer.concat(chunks);
      // ustar: the name at 0, the size (octal) at 124 of each header.
      const names: string[] = [];
      for (let i = 0; i + 512 <= raw.length && raw[i] !== 0;) {
        const name = raw.subarray(i, i + 100).toString().replace(/\0.*$/s, '');
        const size = parseInt(raw.subarray(i + 124, i + 136).toString().replace(/\0.*$/s, '').trim() || '0', 8);
        names.push(name);
        i += 512 + Math.ceil(size / 512) * 512;
      }
      expect(names).toEqual(expect.arrayContaining(['./out/', './out/f', './bin/busybox']));
      // Docker announces the export as a container event.
      await until('export event', async () => {
        const since = Math.floor(Date.now() / 1000) - 120;
        const s = (await d.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { container: [c.id], event: ['export'] } })) as NodeJS.ReadableStream;
        let got = '';
        for await (const b of s as AsyncIterable<Buffer>) got += b.toString();
        return got.includes('"export"') ? true : undefined;
      }, 15_000);

      // A container using a volume: mount when it starts, unmount when it stops.
      const mvol = `domount-t${subnet}`;
      const mev = (await d.getEvents({ filters: { type: ['volume'], volume: [mvol] } })) as NodeJS.ReadableStream & { destroy(): void };
      let mtext = '';
      mev.on('data', (b: Buffer) => { mtext += b.toString(); });
      const user = await d.createContainer({ Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: [`${mvol}:/data:ro`] } });
      try {
        await user.start();
        await user.wait();
        await until('volume unmount event', () => (mtext.includes('"unmount"') ? true : undefined), 15_000);
        const mevs = mtext.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } });
        expect(mevs.map((e) => e.Action)).toEqual(['create', 'mount', 'unmount']);
        expect(mevs[1]!.Actor.Attributes).toMatchObject({ container: user.id, destination: '/data', 'read/write': 'false', driver: 'local' });
        expect(mevs[2]!.Actor.Attributes).toMatchObject({ container: user.id, driver: 'local' });
      } finally {
        mev.destroy();
        await user.remove({ force: true });
        await d.getVolume(mvol).remove().catch(() => undefined);
      }
    } finally {
      events.destroy();
      await c.remove({ force: true });
      await d.getVolume(vol).remove().catch(() => undefined);
    }
  });

  it('testcontainers: a container with an exposed port, wait strategy, exec, logs; its reaper removes what a dead session left', async () => {
    // The reaper image, through docker load.
    const archive = join(work, 'ryuk.tar');
    writeFileSync(archive, await ryukArchive());
    expectOk(await docker('load', '-i', archive));
    const tc = join(FIXTURES, 'testcontainers-flow.cjs');
    const tcEnv = { RYUK_CONTAINER_IMAGE: RYUK_IMAGE, TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: '2s' };
    const r = await run(process.execPath, [tc, 'leave'], { env: tcEnv, cwd: resolve(__dirname, '..') });
    expectOk(r);
    const o = steps(r.stdout);
    expect(o).toMatchObject({ port: true, exec: [3, 'tc-exec\n'], logs: true, done: true });
    const left = o['left'] as string;
    // The reaper ran with the API socket bind-mounted, and the session's container goes once the session is gone.
    const reaper = await docker('ps', '--no-trunc', '--filter', 'name=testcontainers-ryuk-', '--format', '{{.Image}} {{.Mounts}}');
    expect(reaper.stdout.trim()).toBe(`${RYUK_IMAGE} ${sock}`);
    await until('reaped', async () => ((await docker('inspect', left)).code !== 0 ? true : undefined), 60_000);
    // Stopped by the flow itself when asked to clean up.
    const clean = await run(process.execPath, [tc], { env: tcEnv, cwd: resolve(__dirname, '..') });
    expectOk(clean);
    expect((await docker('inspect', steps(clean.stdout)['id'] as string)).code).not.toBe(0);
  }, 180_000);
});
