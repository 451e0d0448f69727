// docker build through berth's Docker API gateway (POST /build onto the
// engine's Builder), with unmodified clients in both layouts: docker-py's
// images.build (directory and gzip contexts, tags, build args, labels,
// quiet, a failing RUN and a Dockerfile that does not parse), the docker
// CLI 28 with the classic builder (DOCKER_BUILDKIT=0), and dockerode's
// buildImage with a tar stream; and a client that goes away mid-build
// stops it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const DOCKER = '/usr/local/bin/docker';
const FIXTURES = resolve(__dirname, 'fixtures');
const SUBNET = 252; // 10.219.252.0/24 all-in-one, 253 split: this file's

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

describe.each([
  ['all-in-one', false, SUBNET],
  ['split', true, SUBNET + 1],
] as const)('docker build through the Docker API gateway (%s)', (_layout, split, subnet) => {
  let s: CliStack;
  let env: NodeJS.ProcessEnv;
  let work: string;
  let ctx: string;
  let sock: string;

  const run = (file: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> =>
    new Promise((res) => {
      const child = spawn(file, args, { env: { ...env, ...o.env }, cwd: o.cwd ?? work, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const t = setTimeout(() => child.kill('SIGKILL'), 180_000);
      child.on('close', (code, signal) => {
        clearTimeout(t);
        res({ code: code ?? (signal ? 128 : -1), stdout, stderr });
      });
    });
  const docker = (...args: string[]) => run(DOCKER, args);

  beforeAll(async () => {
    s = await startCliStack(split, subnet);
    work = mkdtempSync(join(tmpdir(), 'berth-docker-build-'));
    sock = join(s.paths.run, 'docker.sock');
    env = { ...s.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(work, '.docker'), HOME: work, DOCKER_BUILDKIT: '0' };
    ctx = mkdtempSync(join(work, 'ctx-'));
    writeFileSync(join(ctx, 'greet.txt'), 'hello from the context\n');
    writeFileSync(join(ctx, 'Build.dockerfile'), [
      'FROM busybox',
      'ARG WHO=nobody',
      'COPY greet.txt /greet.txt',
      'RUN echo "built for $WHO" >> /greet.txt && echo run-output',
      'CMD ["cat", "/greet.txt"]',
      '',
    ].join('\n'));
    writeFileSync(join(ctx, 'Fail.dockerfile'), 'FROM busybox\nRUN echo before-failing && exit 7\n');
    writeFileSync(join(ctx, 'Bad.dockerfile'), 'FROM busybox\nRUNN echo\n');
    await until('busybox image', async () => ((await docker('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('docker-py: images.build with tag, build args, labels and another Dockerfile; gzip and quiet; BuildError for a failing RUN; a Dockerfile that does not parse', async () => {
    const r = await run('/usr/bin/python3', [join(FIXTURES, 'docker_py_build.py'), ctx, `t${subnet}`]);
    expectOk(r);
    const o = steps(r.stdout);
    expect(o['built']).toEqual([true, true, `t${subnet}`]);
    const stream = o['stream'] as string;
    // --label is one more LABEL step at the end, as Docker's classic builder adds it.
    expect(stream).toMatch(/^Step 1\/6 : FROM busybox\n/);
    expect(stream).toContain('Step 6/6 : LABEL suite="t' + subnet + '"\n');
    expect(stream).toContain('Step 4/6 : RUN echo "built for $WHO" >> /greet.txt && echo run-output\n');
    expect(stream).toContain('run-output\n');
    const id = o['id'] as string;
    expect(stream).toContain(`Successfully built ${id.slice(7, 19)}\nSuccessfully tagged pybuild-t${subnet}:1\n`);
    expect(o['aux']).toEqual([id]);
    expect(o['run']).toBe('hello from the context\nbuilt for py\n');
    // quiet: only the id, as Docker's -q
    expect(o['quiet']).toEqual([{ stream: expect.stringMatching(/^sha256:[0-9a-f]{64}\n$/) }]);
    expect(o['run-gz']).toBe('hello from the context\nbuilt for gz\n');
    expect(o['fail']).toEqual(['BuildError', "The command '/bin/sh -c echo before-failing && exit 7' returned a non-zero code: 7", true]);
    expect(o['fail-quiet']).toContain('before-failing\n');
    expect(o['bad']).toEqual(['APIError', expect.stringContaining('unknown instruction: RUNN')]);
  }, 240_000);

  it('docker CLI (DOCKER_BUILDKIT=0): build -t -f --build-arg prints the classic output; a failing build exits 1 with the message', async () => {
    const r = await run(DOCKER, ['build', '-t', `clibuild-t${subnet}`, '-f', 'Build.dockerfile', '--build-arg', 'WHO=cli', '.'], { cwd: ctx });
    expectOk(r);
    expect(r.stdout).toContain('Step 1/5 : FROM busybox');
    expect(r.stdout).toMatch(/Successfully built [0-9a-f]{12}\n/);
    expect(r.stdout).toContain(`Successfully tagged clibuild-t${subnet}:latest`);
    const out = await docker('run', '--rm', `clibuild-t${subnet}`);
    expectOk(out);
    expect(out.stdout).toBe('hello from the context\nbuilt for cli\n');
    const bad = await run(DOCKER, ['build', '-f', 'Fail.dockerfile', '.'], { cwd: ctx });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('before-failing');
    expect(bad.stderr).toContain("returned a non-zero code: 7");
    expectOk(await docker('rmi', `clibuild-t${subnet}`));
  }, 240_000);

  it('dockerode: buildImage from a tar stream, progress followed to the end; a bad option is refused naming it', async () => {
    const d = new Docker({ socketPath: sock });
    const p = pack();
    p.entry({ name: 'Dockerfile' }, 'FROM busybox\nLABEL from=dockerode\nCMD ["echo", "node-built"]\n');
    p.finalize();
    const stream = await d.buildImage(p as unknown as NodeJS.ReadableStream, { t: `nodebuild-t${subnet}:2`, labels: { suite: 'dockerode' } });
    const msgs = await new Promise<{ stream?: string; aux?: { ID: string } }[]>((res, rej) => d.modem.followProgress(stream, (err: Error | null, out: unknown[]) => (err ? rej(err) : res(out as never))));
    const text = msgs.map((m) => m.stream ?? '').join('');
    expect(text).toContain(`Successfully tagged nodebuild-t${subnet}:2\n`);
    const img = await d.getImage(`nodebuild-t${subnet}:2`).inspect();
    expect(img.Config.Labels).toMatchObject({ from: 'dockerode', suite: 'dockerode' });
    expect(msgs.find((m) => m.aux)?.aux?.ID).toBe(img.Id);
    await d.getImage(`nodebuild-t${subnet}:2`).remove();
    const p2 = pack();
    p2.entry({ name: 'Dockerfile' }, 'FROM busybox\n');
    p2.finalize();
    await expect(d.buildImage(p2 as unknown as NodeJS.ReadableStream, { networkmode: 'host' })).rejects.toMatchObject({ statusCode: 501, message: expect.stringContaining('networkmode=host') });
  }, 240_000);

  it('a client that goes away mid-build (docker build interrupted) stops it: the running step\'s container is removed', async () => {
    const d = new Docker({ socketPath: sock });
    const p = pack();
    p.entry({ name: 'Dockerfile' }, 'FROM busybox\nRUN echo long-step-started && sleep 600\n');
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    const steps = async () => d.listContainers({ all: true, filters: { label: ['berth.build=step'] } });
    const req = request({ socketPath: sock, path: '/v1.41/build?nocache=1', method: 'POST', headers: { 'Content-Type': 'application/x-tar' } });
    try {
      await new Promise<void>((res, rej) => {
        req.on('error', rej);
        req.on('response', (r) => {
          let text = '';
          r.on('error', () => undefined);
          r.on('data', (c: Buffer) => {
            text += c.toString();
            if (text.includes('long-step-started')) res();
          });
          r.on('end', () => rej(new Error(`the build ended: ${text}`)));
        });
        req.end(Buffer.concat(chunks));
      });
      expect(await steps()).toHaveLength(1);
    } finally {
      req.destroy();
    }
    // Well before the step's sleep could end by itself.
    await until('the step container removed', async () => ((await steps()).length === 0 ? true : undefined), 60_000);
  }, 120_000);
});
