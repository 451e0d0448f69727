import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RootView, TarReader } from '@berth/tar';
import type { BuildBackend, CommitStep, ImageState } from './backend';
import { runBuild, withLatestTag } from './evaluate';
import { workdirParts } from './copy-plan';

/** A BuildBackend that keeps images and the cache in memory and records every step. */
function memoryBackend() {
  const images = new Map<string, ImageState>([['sha256:base', { id: 'sha256:base', config: { Env: ['PATH=/bin'], Cmd: ['sh'], OnBuild: null } }]]);
  const steps: CommitStep[] = [];
  const cache = new Map<string, string>();
  const tags = new Map<string, string>();
  const backend: BuildBackend = {
    async resolveImage(ref) {
      const img = images.get(ref === 'busybox' ? 'sha256:base' : ref);
      if (!img) throw new Error(`no image ${ref}`);
      return img;
    },
    async findImage(id) { return images.get(id) ?? null; },
    async commit(step) {
      steps.push(step);
      if (step.work?.kind === 'copy') step.work.parts({ kind: () => null, lookupOwner: () => ({ uid: 7, gid: 7 }) });
      const id = `sha256:img${images.size}`;
      images.set(id, { id, config: step.config });
      return id;
    },
    async withImageRoot() { throw new Error('not used'); },
    async cacheGet(k) { return cache.get(k) ?? null; },
    async cachePut(k, v) { cache.set(k, v); },
    async tag(id, refs) { for (const r of refs) tags.set(r, id); },
  };
  return { backend, images, steps, cache, tags };
}

describe('runBuild', () => {
  let ctx: string;
  const out: string[] = [];
  const opts = (dockerfile: string, extra: Partial<Parameters<typeof runBuild>[1]> = {}) => ({
    dockerfile, context: new RootView(ctx), ignore: [], buildArgs: {}, progress: (c: Buffer | string) => { out.push(c.toString()); }, ...extra,
  });
  beforeEach(() => {
    ctx = mkdtempSync(join(tmpdir(), 'berth-eval-'));
    out.length = 0;
  });
  afterEach(() => rmSync(ctx, { recursive: true, force: true }));

  it('answers an unchanged rebuild from the cache and misses from the first changed file on', async () => {
    const m = memoryBackend();
    writeFileSync(join(ctx, 'a'), 'one');
    const df = 'FROM busybox\nENV X=1\nCOPY a /a\nRUN make\nCMD ["run"]\n';
    const first = await runBuild(m.backend, opts(df, { tags: ['app:1'] }));
    expect(first).toMatchObject({ cached: 0, built: 4 });
    expect(m.tags.get('app:1')).toBe(first.imageId);
    const second = await runBuild(m.backend, opts(df));
    expect(second).toMatchObject({ cached: 4, built: 0, imageId: first.imageId });
    writeFileSync(join(ctx, 'a'), 'two');
    const third = await runBuild(m.backend, opts(df));
    expect(third).toMatchObject({ cached: 1, built: 3 });
    expect(out.join('')).toContain(' ---> CACHED');
    // --no-cache runs everything again.
    expect(await runBuild(m.backend, opts(df, { noCache: true }))).toMatchObject({ cached: 0, built: 4 });
  });

  it('gives RUN the stage ENV, ARGs and the SHELL, and keeps ARGs out of the image', async () => {
    const m = memoryBackend();
    await runBuild(m.backend, opts('ARG V=0\nFROM busybox\nARG V\nARG W=w\nENV W=fromenv\nSHELL ["/bin/ash", "-eu", "-c"]\nUSER 5\nWORKDIR sub\nRUN echo $V', { buildArgs: { V: '9', UNUSED: 'x' } }));
    const run = m.steps.find((s) => s.work?.kind === 'run')!;
    expect(run.work).toMatchObject({ args: ['/bin/ash', '-eu', '-c', 'echo $V'], user: '5', workingDir: '/sub' });
    expect((run.work as { env: string[] }).env).toEqual(['PATH=/bin', 'W=fromenv', 'V=9']);
    expect(run.config.Env).toEqual(['PATH=/bin', 'W=fromenv']);
    expect(out.join('')).toContain('[Warning] One or more build-args [UNUSED] were not consumed');
  });

  it('builds only the stages the target needs, and applies ENTRYPOINT/CMD as Docker does', async () => {
    const m = memoryBackend();
    const df = 'FROM busybox AS unused\nRUN never\nFROM busybox AS base\nENTRYPOINT ["tini"]\nFROM base\nLABEL a=b\n';
    await runBuild(m.backend, opts(df));
    expect(m.steps.some((s) => s.work?.kind === 'run')).toBe(false);
    const last = m.steps[m.steps.length - 1]!;
    // ENTRYPOINT dropped the base's inherited CMD; the final stage built on stage "base".
    expect(last.config).toMatchObject({ Entrypoint: ['tini'], Cmd: null, Labels: { a: 'b' } });
    await expect(runBuild(m.backend, opts(df, { target: 'nope' }))).rejects.toThrow('target stage "nope" could not be found');
  });

  it('runs the base image\'s ONBUILD triggers first and does not pass them on', async () => {
    const m = memoryBackend();
    m.images.set('sha256:trig', { id: 'sha256:trig', config: { OnBuild: ['RUN echo triggered'] } });
    await runBuild(m.backend, opts('FROM sha256:trig\nLABEL x=y\n'));
    expect(m.steps[0]!.work).toMatchObject({ kind: 'run', args: ['/bin/sh', '-c', 'echo triggered'] });
    expect(m.steps[m.steps.length - 1]!.config.OnBuild).toBeNull();
  });

  it('WORKDIR makes the directory the image lacks (owned by USER), and nothing when it has it', async () => {
    const m = memoryBackend();
    await runBuild(m.backend, opts('FROM busybox\nUSER 5\nWORKDIR /srv/app\n'));
    const step = m.steps.find((s) => s.createdBy === 'WORKDIR /srv/app')!;
    expect(step.work?.kind).toBe('copy');
    const headers = async (dir: string, has: string[]) => {
      const owners: string[] = [];
      const parts = workdirParts(dir, '5', { kind: (p) => (has.includes(p) ? 'dir' : p === '/file' ? 'other' : null), lookupOwner: (u) => { owners.push(u); return { uid: 5, gid: 6 }; } });
      const names: string[] = [];
      const reader = new TarReader({ onEntry: (h) => names.push(`${h.name.replace(/\/$/, '')} ${h.uid}`), onData: () => {}, onEntryEnd: () => {} });
      for (const part of parts) for await (const b of part.tar()) reader.push(b);
      return { parts: parts.length, names, owners };
    };
    expect(await headers('/srv/app', [])).toEqual({ parts: 1, names: ['srv 5', 'srv/app 5'], owners: ['5'] });
    expect(await headers('/srv/app', ['/srv'])).toMatchObject({ parts: 1, names: ['srv/app 5'] });
    expect(await headers('/srv/app', ['/srv/app'])).toEqual({ parts: 0, names: [], owners: [] });
    await expect(headers('/file/x', [])).rejects.toThrow('WORKDIR failed: mkdir /file: not a directory');
  });

  it('tags a name without a tag as name:latest and prints it so, as Docker does', async () => {
    const m = memoryBackend();
    const r = await runBuild(m.backend, opts('FROM busybox\nLABEL a=b\n', { tags: ['app', 'reg.example:5000/web', 'x:2'] }));
    expect([...m.tags.keys()]).toEqual(['app:latest', 'reg.example:5000/web:latest', 'x:2']);
    expect(m.tags.get('app:latest')).toBe(r.imageId);
    expect(out.join('')).toContain('Successfully tagged app:latest\n');
    expect(out.join('')).not.toMatch(/Successfully tagged app\n/);
    expect(withLatestTag('app@sha256:0123')).toBe('app@sha256:0123');
  });

  it('names the line of a step whose COPY source is missing', async () => {
    const m = memoryBackend();
    await expect(runBuild(m.backend, opts('FROM busybox\n\nCOPY nothere /x\n'))).rejects.toThrow(
      'dockerfile parse error on line 3: COPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not exist',
    );
  });
});
