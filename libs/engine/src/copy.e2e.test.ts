// berth cp end to end: the six services in this process on their real gRPC
// sockets, driven by the real `berth` CLI (apps/cli/bin/berth, from dist/)
// and, for StatPath/CopyTo edge cases, by the engine's gRPC client. Into and
// out of a running container (tmpfs, bind mounts and volumes as it sees
// them) and an exited one (its writable root plus the bind sources), "-" tar
// streams, -a, -L, confinement of symlinks to the container's root, and the
// errors Docker gives. Host names are this run's own (berth-test-<tag>, btk<tag>,
// BERTH-K<TAG>; testing/e2e-stack.test-support.ts) and removed in afterAll.
import { spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupsModule } from '@berth/cgroups';
import { imagesModule } from '@berth/images';
import { SERVICE_NAMES, serviceEnvKey, type BerthClient, type BerthPaths } from '@berth/kit';
import { layersModule } from '@berth/layers';
import { namespacesModule } from '@berth/namespaces';
import { networksModule } from '@berth/networks';
import { ErrorCode, rejection } from '@berth/errors';
import type { engineV1 } from '@berth/proto';
import { engineModule } from './service';
import { useE2eStack } from './testing/e2e-stack.test-support';

const BERTH_BIN = resolve(__dirname, '..', '..', '..', 'apps', 'cli', 'bin', 'berth');

interface Result { code: number; stdout: Buffer; stderr: string }

describe('berth cp through the CLI and the engine', () => {
  const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule, engineModule], {
    letter: 'k', subnets: [130, 131, 132, 133, 134],
  });
  const tag = s.tag;
  let base = '';
  let paths: BerthPaths;
  let engine: BerthClient<engineV1.EngineDefinition, engineV1.EngineHandlers>;
  let env: NodeJS.ProcessEnv;
  let work = '';

  const berth = (args: string[], input?: Buffer): Promise<Result> => new Promise((res) => {
    const child = spawn(process.execPath, [BERTH_BIN, ...args], { env, cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdin.end(input);
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => { clearTimeout(t); res({ code: code ?? -1, stdout: Buffer.concat(out), stderr }); });
  });
  const ok = async (args: string[], input?: Buffer): Promise<Result> => {
    const r = await berth(args, input);
    if (r.code !== 0) throw new Error(`berth ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  };
  /** tar -t of a buffer: the entry names. */
  const tarNames = (b: Buffer): Promise<string[]> => new Promise((res, rej) => {
    const c = spawn('tar', ['-t'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let s = '';
    c.stdout.on('data', (d: Buffer) => { s += d.toString(); });
    c.on('close', (code) => (code === 0 ? res(s.split('\n').filter(Boolean)) : rej(new Error(`tar -t exited ${code}`))));
    c.stdin.end(b);
  });
  const tarOf = (dir: string, ...names: string[]): Promise<Buffer> => new Promise((res, rej) => {
    const c = spawn('tar', ['-C', dir, '-c', ...names], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.on('close', (code) => (code === 0 ? res(Buffer.concat(out)) : rej(new Error(`tar -c exited ${code}`))));
  });
  const until = async <T>(what: string, f: () => Promise<T | undefined>): Promise<T> => {
    for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    }
  };

  // Test-only dirs (bind sources, tars) beside the stack's state.
  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'bk-'));
    work = join(base, 'work');
    mkdirSync(work);
    paths = s.paths;
    env = { ...process.env, BERTH_ROOT: paths.root, BERTH_RUN: paths.run, NO_COLOR: '1' };
    for (const svc of SERVICE_NAMES) delete env[serviceEnvKey(svc, 'ADDR')];
    engine = s.client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    await s.busybox();
  }, 120_000);

  afterAll(() => {
    engine?.close();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const SETUP = [
    'echo hello > /tmp/f', 'mkdir -p /tmp/d/sub', 'echo y > /tmp/d/sub/y', 'ln -s /etc/passwd /tmp/link',
    'echo in-tmpfs > /tmpf/t', 'echo in-container > /tmp/secret', 'ln -s /../../../../tmp/secret /tmp/abs-up',
    'ln -s ../../../../../.. /tmp/up', 'ln -s loop2 /tmp/loop1', 'ln -s loop1 /tmp/loop2', 'touch /tmp/ready',
  ].join('; ');

  it('copies out of and into a running container, as it sees its mounts', async () => {
    const bind = join(base, 'bind');
    const ro = join(base, 'ro');
    mkdirSync(bind);
    mkdirSync(ro);
    const t0 = Date.now();
    await ok(['run', '-d', '--name', 'c1', '--network', 'none', '-v', `${bind}:/data`, '-v', `${ro}:/ro:ro`, '--tmpfs', '/tmpf', 'busybox', 'sh', '-c', `${SETUP}; sleep 1000`]);
    await until('the container to set up its files', async () => ((await berth(['cp', 'c1:/tmp/ready', 'ready'])).code === 0 ? true : undefined));

    // a file to a new name, a directory into an existing one, "dir/." to a new one
    await ok(['cp', 'c1:/tmp/f', 'out.txt']);
    expect(readFileSync(join(work, 'out.txt'), 'utf8')).toBe('hello\n');
    mkdirSync(join(work, 'into'));
    await ok(['cp', 'c1:/tmp/d', 'into']);
    expect(readFileSync(join(work, 'into/d/sub/y'), 'utf8')).toBe('y\n');
    await ok(['cp', 'c1:/tmp/d/.', 'contents']);
    expect(readFileSync(join(work, 'contents/sub/y'), 'utf8')).toBe('y\n');
    // tmpfs is only in the container's mount namespace
    await ok(['cp', 'c1:/tmpf/t', 't']);
    expect(readFileSync(join(work, 't'), 'utf8')).toBe('in-tmpfs\n');
    // a symlink is copied as a link; -L copies its target, resolved inside the container
    await ok(['cp', 'c1:/tmp/link', 'lnk']);
    expect(readlinkSync(join(work, 'lnk'))).toBe('/etc/passwd');
    await ok(['cp', '-L', 'c1:/tmp/abs-up', 'secret']);
    expect(readFileSync(join(work, 'secret'), 'utf8')).toBe('in-container\n');

    // into a bind-mounted dir: the host dir gets it, owned by the container's root unless -a
    writeFileSync(join(work, 'own'), 'own\n');
    chownSync(join(work, 'own'), 1234, 4321);
    await ok(['cp', 'own', 'c1:/data/']);
    await ok(['cp', '-a', 'own', 'c1:/data/own-a']);
    expect(lstatSync(join(bind, 'own')).uid).toBe(0);
    expect(lstatSync(join(bind, 'own-a')).uid).toBe(1234);
    expect(lstatSync(join(bind, 'own-a')).gid).toBe(4321);
    // local "link/" is the directory it points at, named as the link; local "dir/." is its contents
    symlinkSync('into', join(work, 'intolink'));
    await ok(['cp', 'intolink/', 'c1:/tmp/']);
    await ok(['cp', 'into/.', 'c1:/tmp/into-contents']);
    expect(await tarNames((await ok(['cp', 'c1:/tmp/intolink', '-'])).stdout)).toEqual(['intolink/', 'intolink/d/', 'intolink/d/sub/', 'intolink/d/sub/y']);
    expect(await tarNames((await ok(['cp', 'c1:/tmp/into-contents', '-'])).stdout)).toEqual(['into-contents/', 'into-contents/d/', 'into-contents/d/sub/', 'into-contents/d/sub/y']);
    expect((await berth(['cp', 'own/', 'c1:/tmp/'])).stderr).toMatch(/not a directory: own\//);
    // a read-only volume refuses, naming it
    const r1 = await berth(['cp', 'own', 'c1:/ro/']);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/mounted volume is marked read-only: \/ro/);
    expect(existsSync(join(ro, 'own'))).toBe(false);

    // a link climbing out of the root lands in the container's root, never the host's
    const marker = `berth-cp-marker-${tag}`;
    writeFileSync(join(work, marker), 'm\n');
    await ok(['cp', marker, 'c1:/tmp/up/']);
    expect(existsSync(`/${marker}`)).toBe(false);
    expect((await ok(['cp', `c1:/${marker}`, '-'])).stdout.length).toBeGreaterThan(0);

    // "-": a tar on stdout, and a tar on stdin into a directory
    expect(await tarNames((await ok(['cp', 'c1:/tmp/d', '-'])).stdout)).toEqual(['d/', 'd/sub/', 'd/sub/y']);
    await ok(['cp', '-', 'c1:/tmp'], await tarOf(work, 'out.txt'));
    const back = await ok(['cp', 'c1:/tmp/out.txt', '-']);
    expect(await tarNames(back.stdout)).toEqual(['out.txt']);
    // a progress line only on a terminal: none here, Docker's line under script(1)'s pty, none with -q
    expect(back.stderr).toBe('');
    const onTty = async (args: string[]): Promise<string> => new Promise((res) => {
      const cmd = [process.execPath, BERTH_BIN, ...args].map((a) => `'${a}'`).join(' ');
      const c = spawn('script', ['-qec', cmd, '/dev/null'], { env, cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      c.on('close', () => res(out));
    });
    expect(await onTty(['cp', 'c1:/tmp/d', 'tty-d'])).toMatch(/^Successfully copied \d+(\.\d+)?kB to tty-d\r?\n$/);
    expect(readFileSync(join(work, 'tty-d/sub/y'), 'utf8')).toBe('y\n');
    expect(await onTty(['cp', '-q', 'out.txt', 'c1:/tmp/q.txt'])).toBe('');

    // errors as Docker words them
    const e1 = await berth(['cp', 'c1:/nonexist', 'x']);
    expect(e1.code).toBe(1);
    expect(e1.stderr).toMatch(/Could not find the file \/nonexist in container c1/);
    expect((await berth(['cp', 'c1:/tmp/f/', 'x'])).stderr).toMatch(/\/tmp\/f\/ in container c1 is not a directory/);
    expect((await berth(['cp', 'c1:/tmp/loop1/x', 'x'])).stderr).toMatch(/too many levels of symbolic links/);
    expect((await berth(['cp', 'into', 'c1:/tmp/f'])).stderr).toMatch(/cannot copy a directory to the existing file/);
    expect((await berth(['cp', 'own', 'c1:/nonexist/'])).stderr).toMatch(/no such directory/);
    expect((await berth(['cp', '-', 'c1:/tmp/f'], Buffer.alloc(0))).stderr).toMatch(/must be a directory/);
    const e2 = await berth(['cp', 'c1:/x', 'c2:/y']);
    expect(e2.code).toBe(125);
    expect(e2.stderr).toMatch(/copying between containers is not supported/);
    expect((await berth(['cp', 'nosuch:/x', 'x'])).code).toBe(1);
    expect(existsSync(join(work, 'x'))).toBe(false);

    // the container was frozen for each copy (symlink races) and is thawed again
    const pid = (JSON.parse((await engine.InspectContainer({ id: 'c1' })).json) as { State: { Pid: number } }).State.Pid;
    const freezer = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1] === 'freezer')!.split(':')[2]!;
    const freezerState = () => readFileSync(join('/sys/fs/cgroup/freezer', freezer, 'freezer.state'), 'utf8').trim();
    expect(freezerState()).toBe('THAWED');
    // a paused container: copies both ways, and stays paused
    await ok(['pause', 'c1']);
    expect((await ok(['cp', 'c1:/tmp/f', '-'])).stdout.includes('hello\n')).toBe(true);
    await ok(['cp', 'own', 'c1:/tmp/while-paused']);
    expect(freezerState()).toBe('FROZEN');
    await ok(['unpause', 'c1']);
    expect((await ok(['cp', 'c1:/tmp/while-paused', '-'])).stdout.includes('own\n')).toBe(true);

    // Docker's events for cp, on NATS and through the Events rpc
    const seen = new Set<string>();
    const events = engine.Events({
      since: String(Math.floor(t0 / 1000)), until: String(Math.ceil(Date.now() / 1000) + 1),
      filters: { container: { values: ['c1'] }, event: { values: ['archive-path', 'extract-to-dir'] } },
    }) as AsyncIterable<engineV1.Event__Output>;
    for await (const ev of events) seen.add(ev.action);
    expect([...seen].sort()).toEqual(['archive-path', 'extract-to-dir']);
  }, 180_000);

  it('StatPath and CopyTo over gRPC: stat header, "../" entries refused and undone, dir/non-dir conflicts', async () => {
    const st = await engine.StatPath({ id: 'c1', path: '/tmp/link' });
    expect(st).toMatchObject({ name: 'link', linkTarget: '/etc/passwd' });
    const stDir = await engine.StatPath({ id: 'c1', path: 'tmp/d/.' });
    expect(stDir.name).toBe('.');
    expect(stDir.mode & 0o170000).toBe(0o040000);

    const send = async (path: string, tar: Buffer) => {
      const { stream, response } = engine.CopyTo();
      stream.write({ start: { id: 'c1', path, copyUidGid: false, allowOverwriteDirWithFile: false } });
      stream.write({ data: tar });
      stream.end();
      return response;
    };
    // An archive whose second entry climbs out: refused, and the first entry is removed again.
    const dir = mkdtempSync(join(base, 'evil-'));
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'ok'), 'ok');
    writeFileSync(join(dir, 'a', 'x'), 'x');
    const raw = await new Promise<Buffer>((res) => {
      const c = spawn('tar', ['-C', dir, '-c', '--transform', 's,^a/x,../../../x,', '-P', 'ok', 'a/x'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out: Buffer[] = [];
      c.stdout.on('data', (d: Buffer) => out.push(d));
      c.on('close', () => res(Buffer.concat(out)));
    });
    expect(await tarNames(raw)).toEqual(['ok', '../../../x']);
    const e = await rejection(send('/tmp', raw));
    expect(e.code).toBe(ErrorCode.InvalidArgument);
    expect(e.message).toMatch(/points outside the destination/);
    expect((await berth(['cp', 'c1:/tmp/ok', '-'])).stderr).toMatch(/Could not find the file/);
    // A file onto a directory is refused (NoOverwriteDirNonDir).
    mkdirSync(join(dir, 'ren'));
    writeFileSync(join(dir, 'ren', 'd'), 'file named d');
    const e3 = await rejection(send('/tmp', await tarOf(join(dir, 'ren'), 'd')));
    expect(e3.code).toBe(ErrorCode.FailedPrecondition);
    expect(e3.message).toMatch(/cannot overwrite directory \/tmp\/d with non-directory d/);
    // Missing destination directory, and an unknown container.
    expect((await rejection(send('/nonexist', await tarOf(work, 'out.txt')))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(engine.StatPath({ id: 'nosuch', path: '/' }))).code).toBe(ErrorCode.NotFound);
  }, 120_000);

  it('copies out of and into an exited container through its root and bind sources', async () => {
    await ok(['stop', '-t', '0', 'c1']);
    const bind = join(base, 'bind');
    writeFileSync(join(bind, 'from-host'), 'host side\n');
    expect((await ok(['cp', 'c1:/tmp/f', '-'])).stdout.includes('hello\n')).toBe(true);
    await ok(['cp', 'c1:/data/from-host', 'from-host']);
    expect(readFileSync(join(work, 'from-host'), 'utf8')).toBe('host side\n');
    // tmpfs has no content while nothing runs
    expect((await berth(['cp', 'c1:/tmpf/t', 'x'])).stderr).toMatch(/Could not find the file \/tmpf\/t in container c1/);
    writeFileSync(join(work, 'late'), 'late\n');
    await ok(['cp', 'late', 'c1:/tmp/late']);
    await ok(['cp', 'late', 'c1:/data/late']);
    expect(readFileSync(join(bind, 'late'), 'utf8')).toBe('late\n');
    // what was copied into the stopped container is there when it runs again
    await ok(['start', 'c1']);
    await until('c1 running', async () => ((JSON.parse((await engine.InspectContainer({ id: 'c1' })).json) as { State: { Running: boolean } }).State.Running ? true : undefined));
    await ok(['cp', 'c1:/tmp/late', 'late-back']);
    expect(readFileSync(join(work, 'late-back'), 'utf8')).toBe('late\n');
  }, 120_000);

  it('refuses writes to a --read-only root but not to its volumes', async () => {
    const bind = join(base, 'bind');
    await ok(['create', '--name', 'r1', '--network', 'none', '--read-only', '-v', `${bind}:/data`, 'busybox', 'true']);
    const r = await berth(['cp', 'own', 'r1:/tmp/']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/container rootfs is marked read-only/);
    await ok(['cp', 'own', 'r1:/data/own-r1']);
    expect(existsSync(join(bind, 'own-r1'))).toBe(true);
    // reading a created container's root works
    expect(await tarNames((await ok(['cp', 'r1:/etc/passwd', '-'])).stdout)).toEqual(['passwd']);
  }, 120_000);
});
