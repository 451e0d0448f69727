// berth build through the real stack (the CLI sends the context, the engine's
// Builder runs each RUN as one of its containers and commits every step
// through Images.Commit): multi-stage builds and the cache, RUN as the
// image's USER, COPY --chown, .dockerignore, Docker's errors with the line,
// and that a failed step leaves no container, snapshot or mount behind.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BERTH_BIN, mountsUnder, startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const SUBNET = 247; // 10.219.247.0/24: this file's
const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

describe('berth build through the real stack', () => {
  let s: CliStack;
  let dir: string;
  const berth = (...args: string[]) => s.berth(args, { timeoutMs: 120_000 });
  /** A fresh context directory with these files. */
  const context = (files: Record<string, string>): string => {
    const d = mkdtempSync(join(dir, 'ctx-'));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(d, name, '..'), { recursive: true });
      writeFileSync(join(d, name), text);
    }
    return d;
  };
  const runOut = async (...args: string[]) => {
    const r = await berth('run', '--rm', ...args);
    expectOk(r);
    return r.stdout;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-build-'));
    s = await startCliStack(false, SUBNET);
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('builds a multi-stage Dockerfile, and the second build is answered from the cache', { timeout: 240_000 }, async () => {
    const ctx = context({
      'Dockerfile': [
        'ARG BASE=busybox',
        'FROM ${BASE} AS build',
        'WORKDIR /src',
        'COPY greet.txt .',
        'RUN cat greet.txt > out.txt && echo built >> out.txt',
        '',
        'FROM busybox',
        'ARG WHO=nobody',
        'ENV GREETING="hello there" WHO=$WHO',
        'COPY --from=build /src/out.txt /app/',
        'LABEL org.example.stage=final',
        'EXPOSE 8080/tcp',
        'CMD ["cat", "/app/out.txt"]',
      ].join('\n'),
      'greet.txt': 'hi from the context\n',
    });
    const first = await berth('build', '-t', 'bt-multi:1', '-t', 'bt-multi:also', '--build-arg', 'WHO=tester', ctx);
    expectOk(first);
    expect(first.stdout).toMatch(/Step 1\/\d+ : FROM busybox AS build/);
    expect(first.stdout).not.toContain('CACHED');
    expect(first.stdout).toContain('Successfully tagged bt-multi:1');
    expect(await runOut('bt-multi:1')).toBe('hi from the context\nbuilt\n');
    expect(await runOut('bt-multi:also', 'sh', '-c', 'echo "$GREETING/$WHO"')).toBe('hello there/tester\n');
    const inspect = JSON.parse((await berth('image', 'inspect', 'bt-multi:1')).stdout) as { Config: { Labels: Record<string, string>; ExposedPorts: Record<string, object> } }[];
    expect(inspect[0]!.Config.Labels['org.example.stage']).toBe('final');
    expect(Object.keys(inspect[0]!.Config.ExposedPorts)).toContain('8080/tcp');

    const second = await berth('build', '-t', 'bt-multi:2', '--build-arg', 'WHO=tester', ctx);
    expectOk(second);
    // Every step after FROM is a cache hit, and the result is the same image.
    const steps = second.stdout.split('\n').filter((l) => /^Step \d+\/\d+ : (?!FROM|ARG)/.test(l)).length;
    expect(second.stdout.match(/---> CACHED/g)?.length).toBe(steps);
    const id = async (ref: string) => (await berth('image', 'inspect', '--format', '{{.Id}}', ref)).stdout.trim();
    expect(await id('bt-multi:2')).toBe(await id('bt-multi:1'));

    // A changed file misses from its COPY on; an unchanged one before it still hits.
    writeFileSync(join(ctx, 'greet.txt'), 'changed\n');
    const third = await berth('build', '-t', 'bt-multi:3', '--build-arg', 'WHO=tester', ctx);
    expectOk(third);
    expect(third.stdout).toMatch(/Step 2\/\d+ : WORKDIR \/src\n ---> CACHED/);
    expect(third.stdout).toMatch(/Step 3\/\d+ : COPY greet.txt \.\n(?! ---> CACHED)/);
    expect(await runOut('bt-multi:3')).toBe('changed\nbuilt\n');
  });

  it('runs RUN as the image\'s USER with the stage\'s ENV and WORKDIR, and COPY --chown gives files to that user', { timeout: 180_000 }, async () => {
    const ctx = context({
      'Dockerfile': [
        'FROM busybox',
        "RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group && mkdir -p /home/app && chown app:app /home/app",
        'ENV WHERE=stage-env',
        'WORKDIR /home/app',
        'USER app',
        'COPY --chown=app:app --chmod=640 data/*.txt ./data/',
        'RUN id -un > who && echo "$WHERE $(pwd)" >> who && touch mine',
        'ADD bundle.tar /opt/',
        'SHELL ["/bin/sh", "-c"]',
        'HEALTHCHECK --interval=5s --retries=2 CMD true',
        'STOPSIGNAL SIGINT',
      ].join('\n'),
      'data/a.txt': 'a\n',
      'data/b.txt': 'b\n',
      'data/skip.md': 'not matched by the glob\n',
    });
    // A tar archive in the context: ADD extracts it.
    const tarDir = context({ 'inner/hello': 'from the tar\n' });
    expectOk(await (async () => {
      const { spawnSync } = await import('node:child_process');
      const r = spawnSync('tar', ['-cf', join(ctx, 'bundle.tar'), '-C', tarDir, 'inner']);
      return { code: r.status ?? 1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    })());
    expectOk(await berth('build', '-q', '-t', 'bt-user', ctx));
    expect(await runOut('bt-user', 'cat', 'who')).toBe('app\nstage-env /home/app\n');
    expect(await runOut('bt-user', 'sh', '-c', 'stat -c "%U:%G %a %n" data/* mine')).toBe('app:app 640 data/a.txt\napp:app 640 data/b.txt\napp:app 644 mine\n');
    expect(await runOut('bt-user', 'cat', '/opt/inner/hello')).toBe('from the tar\n');
    const cfg = JSON.parse((await berth('image', 'inspect', '--format', '{{json .Config}}', 'bt-user')).stdout) as Record<string, unknown>;
    expect(cfg).toMatchObject({ User: 'app', WorkingDir: '/home/app', StopSignal: 'SIGINT', Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 2 } });
  });

  it('WORKDIR makes its directory when the image lacks it (owned by USER, as BuildKit); -t name is tagged and printed as name:latest', { timeout: 180_000 }, async () => {
    const ctx = context({
      'Dockerfile': [
        'FROM busybox AS made',
        'WORKDIR /made/here',
        'FROM busybox',
        'USER 1000',
        'WORKDIR /home/u',
        'COPY --from=made /made /copied',
        'RUN touch mine',
      ].join('\n'),
    });
    const r = await berth('build', '-t', 'bt-wd', ctx);
    expectOk(r);
    expect(r.stdout).toContain('Successfully tagged bt-wd:latest\n');
    expect(await runOut('bt-wd', 'sh', '-c', 'ls -d /copied/here && stat -c %u /home/u && ls /home/u')).toBe('/copied/here\n1000\nmine\n');
    // A WORKDIR the image has makes no layer: the step's history entry is empty.
    expectOk(await berth('build', '-t', 'bt-wd-has', context({ 'Dockerfile': 'FROM busybox\nWORKDIR /tmp\n' })));
    const h = await berth('history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'bt-wd-has');
    expect(h.stdout.split('\n')[0]).toBe('WORKDIR /tmp|0B');
  });

  it('leaves out what .dockerignore excludes, with its exceptions', { timeout: 120_000 }, async () => {
    const ctx = context({
      'Dockerfile': 'FROM busybox\nCOPY . /ctx/\n',
      '.dockerignore': '# comments are skipped\nsecret*\n**/*.log\nbuild\n!build/keep.txt\n',
      'app.txt': 'app\n',
      'secret.key': 'hidden\n',
      'sub/debug.log': 'hidden\n',
      'sub/main.c': 'int main;\n',
      'build/out.o': 'hidden\n',
      'build/keep.txt': 'kept\n',
    });
    expectOk(await berth('build', '-t', 'bt-ignore', ctx));
    expect(await runOut('bt-ignore', 'sh', '-c', 'find /ctx -type f | sort')).toBe(['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/app.txt', '/ctx/build/keep.txt', '/ctx/sub/main.c'].join('\n') + '\n');
    // Naming an ignored file is Docker's "not found", with the line.
    const named = context({ 'Dockerfile': 'FROM busybox\n\nCOPY secret.key /\n', '.dockerignore': 'secret.key\n', 'secret.key': 'x' });
    const r = await berth('build', named);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('dockerfile parse error on line 3: COPY failed: file not found in build context or excluded by .dockerignore: stat secret.key: file does not exist');
  });

  it("refuses bad Dockerfiles with Docker's message and line, before anything runs", { timeout: 120_000 }, async () => {
    const cases: [string, string][] = [
      ['FROM busybox\nRUN true\nCOPYY a b\n', 'dockerfile parse error on line 3: unknown instruction: COPYY'],
      ['FROM busybox\nENV\n', 'dockerfile parse error on line 2: ENV requires at least one argument'],
      ['FROM busybox\nHEALTHCHECK WAT true\n', 'dockerfile parse error on line 2: Unknown type "WAT" in HEALTHCHECK (try CMD)'],
      ['FROM busybox\n# a comment\nCOPY --chown=app /x\n', 'dockerfile parse error on line 3: COPY requires at least two arguments, but only one was provided'],
    ];
    for (const [text, message] of cases) {
      const r = await berth('build', context({ 'Dockerfile': text }));
      expect(r.code, text).toBe(1);
      expect(r.stderr, text).toContain(message);
      expect(r.stdout, text).not.toContain('Step 1');
    }
    // --target naming no stage.
    const t = await berth('build', '--target', 'nope', context({ 'Dockerfile': 'FROM busybox AS a\n' }));
    expect(t.stderr).toContain('target stage "nope" could not be found');
  });

  it("a failed RUN fails the build with Docker's message and leaves no container, snapshot or mount behind", { timeout: 120_000 }, async () => {
    const before = (await s.layers.List({})).snapshots.filter((x) => x.kind === 'SNAPSHOT_KIND_ACTIVE').length;
    const mountsBefore = mountsUnder(s.paths.root).length;
    const r = await berth('build', '-t', 'bt-fails', context({ 'Dockerfile': 'FROM busybox\nRUN echo about to fail && exit 3\n' }));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('about to fail');
    expect(r.stderr).toContain("The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3");
    expect((await berth('ps', '-aq')).stdout.trim()).toBe('');
    expect((await s.layers.List({})).snapshots.filter((x) => x.kind === 'SNAPSHOT_KIND_ACTIVE').length).toBe(before);
    expect(mountsUnder(s.paths.root).length).toBe(mountsBefore);
    expect((await berth('image', 'inspect', 'bt-fails')).code).not.toBe(0);
  });

  it('takes the context as a tar on stdin, or a Dockerfile alone on stdin', { timeout: 120_000 }, async () => {
    const ctx = context({ 'Dockerfile': 'FROM busybox\nCOPY f /f\n', 'f': 'from a tar\n' });
    const { spawnSync } = await import('node:child_process');
    const piped = spawnSync('sh', ['-c', `tar -cf - -C '${ctx}' . | '${process.execPath}' '${BERTH_BIN}' build -t bt-stdin -`], { env: s.env, timeout: 120_000 });
    expect(piped.status, `${piped.stderr}${piped.stdout}`).toBe(0);
    expect(await runOut('bt-stdin', 'cat', '/f')).toBe('from a tar\n');
    const alone = await s.berth(['build', '-q', '-t', 'bt-stdin-df', '-'], { input: 'FROM busybox\nLABEL from=stdin\n' });
    expectOk(alone);
    expect(alone.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('history lists the build steps newest first, with the size of the layers they made', { timeout: 120_000 }, async () => {
    expectOk(await berth('build', '-t', 'bt-hist', context({ 'Dockerfile': 'FROM busybox\nENV A=b\nRUN echo x > /x\nCMD ["sh"]\n' })));
    const h = await berth('history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'bt-hist');
    expectOk(h);
    const lines = h.stdout.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual([expect.stringMatching(/^CMD \["sh"\]\|0B$/), expect.stringMatching(/^RUN \/bin\/sh -c echo x > \/x\|[1-9][\d.]*k?B$/), 'ENV A=b|0B']);
    // The busybox entries follow: the whole history, not only the build's.
    expect(lines.length).toBeGreaterThan(3);
    const id = (await berth('image', 'inspect', '--format', '{{.Id}}', 'bt-hist')).stdout.trim();
    const q = (await berth('history', '-q', 'bt-hist')).stdout.trim().split('\n');
    expect(q[0]).toBe(id.replace(/^sha256:/, '').slice(0, 12));
    expect(q.slice(1).every((x) => x === '<missing>')).toBe(true);
    expect((await berth('history', 'bt-no-such-image')).code).not.toBe(0);
  });

  it('diff lists what a container changed, and export writes its whole root as a tar', { timeout: 120_000 }, async () => {
    const name = 'bt-changes';
    expectOk(await berth('run', '--name', name, 'busybox', 'sh', '-c', 'mkdir /made && echo x > /made/file && rm /bin/true && echo y >> /etc/hostname.extra'));
    try {
      const d = await berth('diff', name);
      expectOk(d);
      const lines = d.stdout.trim().split('\n');
      expect(lines).toEqual(expect.arrayContaining(['A /made', 'A /made/file', 'C /bin', 'D /bin/true', 'A /etc/hostname.extra']));
      const out = join(dir, 'export.tar');
      expectOk(await berth('export', '-o', out, name));
      const { execFileSync } = await import('node:child_process');
      const names = execFileSync('tar', ['-tf', out]).toString().split('\n');
      expect(names).toEqual(expect.arrayContaining(['./made/file', './bin/sh']));
      expect(names).not.toContain('./bin/true');
      expect((await berth('diff', 'bt-no-such-container')).code).not.toBe(0);
    } finally {
      await berth('rm', '-f', name);
    }
  });

  it('--target builds only the stages it needs; COPY --from takes an image as well as a stage', { timeout: 180_000 }, async () => {
    const ctx = context({
      'Dockerfile': [
        'FROM busybox AS tools',
        'RUN echo tool > /tool',
        'FROM busybox AS never',
        'RUN echo this stage is not needed && exit 1',
        'FROM busybox AS final',
        'COPY --from=busybox /bin/busybox /opt/bb',
        'COPY --from=tools /tool /tool',
        'FROM final',
        'RUN echo past the target && exit 1',
      ].join('\n'),
    });
    const r = await berth('build', '--target', 'final', '-t', 'bt-target', ctx);
    expectOk(r);
    expect(r.stdout).not.toContain('not needed');
    expect(r.stdout).not.toContain('past the target');
    expect(await runOut('bt-target', 'sh', '-c', 'cmp /opt/bb /bin/busybox && echo same && cat /tool')).toBe('same\ntool\n');
  });

  it('builds FROM scratch: the first layer step runs on an empty root', { timeout: 120_000 }, async () => {
    const ctx = context({ 'Dockerfile': 'FROM scratch\nCOPY --from=busybox /bin/busybox /bin/busybox\nCMD ["/bin/busybox", "echo", "from scratch"]\n' });
    expectOk(await berth('build', '-t', 'bt-scratch', ctx));
    expect(await runOut('bt-scratch')).toBe('from scratch\n');
    const layers = (await berth('image', 'inspect', '--format', '{{len .RootFS.Layers}}', 'bt-scratch')).stdout.trim();
    expect(layers).toBe('1');
  });

  it('ADD extracts xz and bzip2 tars, and copies a gzip that is not a tar as it is', { timeout: 120_000 }, async () => {
    const src = context({ 'inner/a': 'from xz\n' });
    const ctx = context({ 'Dockerfile': 'FROM busybox\nADD rootfs.tar.xz /x/\nADD more.tar.bz2 /b/\nADD note.gz /n/\n' });
    const { execFileSync } = await import('node:child_process');
    execFileSync('tar', ['-cJf', join(ctx, 'rootfs.tar.xz'), '-C', src, 'inner']);
    execFileSync('tar', ['-cjf', join(ctx, 'more.tar.bz2'), '-C', src, 'inner']);
    writeFileSync(join(ctx, 'note'), 'just a note\n');
    execFileSync('gzip', [join(ctx, 'note')]);
    expectOk(await berth('build', '-t', 'bt-add', ctx));
    expect(await runOut('bt-add', 'sh', '-c', 'cat /x/inner/a /b/inner/a && ls /n && zcat /n/note.gz')).toBe('from xz\nfrom xz\nnote.gz\njust a note\n');
  });
});
