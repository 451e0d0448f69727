// The built CLI as a process (node apps/cli/dist/main.js), without a berth
// stack: help for every command, validation before any connection, the
// unreachable-engine message, version. The engine/image/network calls
// themselves are covered by the cross-service tests once the engine runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BERTH, type CommandDef } from '@berth/cli-kit';
import { BERTH_VERSION } from '@berth/kit';

const appDir = resolve(__dirname, '..');
const mainJs = join(appDir, 'dist', 'main.js');

interface Result { code: number; stdout: string; stderr: string }

function berth(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done) => {
    execFile(process.execPath, [mainJs, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** Every command path in the tree: [["run"], ["container", "ls"], ...]. */
function allPaths(cmd: CommandDef, prefix: string[] = []): { path: string[]; cmd: CommandDef }[] {
  const here = prefix.length ? [{ path: prefix, cmd }] : [];
  return [...here, ...(cmd.subcommands ?? []).flatMap((s) => allPaths(s, [...prefix, s.name]))];
}

async function inBatches<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(fn))));
  return out;
}

describe('berth CLI (no stack)', () => {
  let dir: string;
  let listener: Server;
  let connections = 0;
  let env: Record<string, string>;

  beforeAll(async () => {
    // The tests run the built program: build it so they never test a stale dist.
    execFileSync('npx', ['tsc', '-b'], { cwd: appDir, stdio: 'pipe', timeout: 120_000 });
    dir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    // A socket that counts connections: commands that fail validation must never open one.
    listener = createServer((s) => { connections++; s.destroy(); });
    await new Promise<void>((r) => listener.listen(join(dir, 'listening.sock'), r));
    env = {
      BERTH_RUN: join(dir, 'run'),
      BERTH_ROOT: join(dir, 'root'),
      BERTH_ENGINE_ADDR: `unix:${join(dir, 'listening.sock')}`,
      BERTH_IMAGES_ADDR: `unix:${join(dir, 'listening.sock')}`,
      BERTH_NETWORKS_ADDR: `unix:${join(dir, 'listening.sock')}`,
    };
  });

  afterAll(async () => {
    await new Promise<void>((r) => (listener ? listener.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints Docker-style help for every command and group, exit 0', async () => {
    const paths = allPaths(BERTH);
    expect(paths.length).toBeGreaterThan(60);
    const results = await inBatches(paths, 12, async ({ path, cmd }) => ({ path, cmd, r: await berth([...path, '--help'], env) }));
    for (const { path, cmd, r } of results) {
      const label = path.join(' ');
      expect(r.code, label).toBe(0);
      expect(r.stderr, label).toBe('');
      expect(r.stdout, label).toContain(`Usage:  berth ${label} ${cmd.usage.split('\n')[0]}`);
      expect(r.stdout, label).toContain(cmd.description);
      for (const f of (cmd.flags ?? []).filter((x) => !x.hidden)) expect(r.stdout, `${label} --${f.name}`).toContain(`--${f.name}`);
      for (const s of cmd.subcommands ?? []) expect(r.stdout, `${label} lists ${s.name}`).toMatch(new RegExp(`^  ${s.name} `, 'm'));
    }
    // -h works as --help; `berth` alone prints help and exits 1 (as docker).
    const h = await berth(['ps', '-h'], env);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Usage:  berth ps [OPTIONS]');
    const bare = await berth([], env);
    expect(bare.code).toBe(1);
    expect(bare.stdout).toContain('Usage:  berth [OPTIONS] COMMAND');
    expect(connections).toBe(0);
  });

  it('rejects bad flags with exit 125 naming the flag, before contacting any service', async () => {
    const cases: [string[], RegExp][] = [
      [['run', '-m', '12x', 'alpine'], /invalid argument "12x" for "-m, --memory"/],
      [['run', '--memory', '1k', 'alpine'], /--memory.*minimum memory limit is 6m/],
      [['run', '-p', '99999:80', 'alpine'], /--publish/],
      [['run', '--restart', 'sometimes', 'alpine'], /--restart/],
      [['run', '--rm', '--restart', 'always', 'alpine'], /--restart and --rm/],
      [['run', '-w', 'relative/dir', 'alpine'], /--workdir.*absolute path/],
      [['run', '--cpus', 'lots', 'alpine'], /--cpus/],
      [['run', '--userns', 'bogus', 'alpine'], /invalid argument "bogus" for "--userns": expected host or auto/],
      [['run', '--bogus', 'alpine'], /unknown flag: --bogus/],
      [['create', '--pull', 'sometimes', 'alpine'], /--pull/],
      [['run', '-e', '=x', 'alpine'], /--env/],
      [['run', '--name', '-bad', 'alpine'], /--name/],
      [['run'], /"berth run" requires at least 1 argument/],
      [['exec', '-w', 'rel', 'web', 'ls'], /--workdir/],
      [['logs', '--tail', 'many', 'web'], /--tail/],
      [['logs', '--since', 'yesterday', 'web'], /--since/],
      [['stop', '-t', '-5', 'web'], /--time/],
      [['update', 'web'], /must provide one or more flags/],
      [['update', '--memory', 'lots', 'web'], /--memory/],
      [['ps', '--filter', 'nonsense'], /--filter/],
      [['ps', 'extra'], /"berth ps" accepts no arguments/],
      [['ps', '-n', 'x'], /--last/],
      [['events', '--since', 'whenever'], /--since/],
      [['images', '--filter', 'colour=red'], /invalid filter 'colour'/],
      [['network', 'create', '-d', 'overlay', 'n1'], /--driver/],
      [['network', 'create', '--subnet', '10.0.0.0', 'n1'], /--subnet/],
      [['volume', 'create', '-d', 'nfs', 'v1'], /--driver/],
      [['attach', '--detach-keys', 'ctrl-', 'web'], /detach keys/],
      [['inspect', '--type', 'pod', 'x'], /--type/],
      [['port', 'web', '80/xyz'], /invalid port/],
      [['commit', 'web', 'Repo:tag'], /lowercase/],
      [['frobnicate'], /unknown command "frobnicate" for "berth"/],
      [['cp', 'a', 'b'], /one side must be CONTAINER:PATH/],
      [['cp', 'web:/x', 'db:/y'], /copying between containers is not supported/],
      [['cp', 'web:', 'out'], /source can not be empty/],
      [['cp', '-x', 'web:/a', 'out'], /unknown shorthand flag: 'x'/],
      // stdin is not a terminal here: -it cannot work, and nothing is created.
      [['run', '-it', 'alpine', 'sh'], /the input device is not a TTY/],
      [['exec', '-it', 'web', 'sh'], /the input device is not a TTY/],
    ];
    const results = await inBatches(cases, 12, async ([args, re]) => ({ args, re, r: await berth(args, env) }));
    for (const { args, re, r } of results) {
      const label = args.join(' ');
      expect(r.stderr, label).toMatch(re);
      expect(r.stderr, label).toMatch(/^berth: /);
      expect(r.stderr, label).not.toContain('cannot reach');
      expect(r.code, label).toBe(125);
      expect(r.stdout, label).toBe('');
    }
    expect(connections).toBe(0);
  });

  it('prints its version without an engine', async () => {
    const r = await berth(['version'], { ...env, BERTH_ENGINE_ADDR: `unix:${join(dir, 'absent.sock')}` });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`berth version ${BERTH_VERSION}\n`);
    const f = await berth(['version', '--format', '{{.Client.Version}}'], { ...env, BERTH_ENGINE_ADDR: `unix:${join(dir, 'absent.sock')}` });
    expect(f).toMatchObject({ code: 0, stdout: `${BERTH_VERSION}\n` });
    const v = await berth(['--version'], env);
    expect(v.stdout).toContain(`berth version ${BERTH_VERSION}`);
  });

  it('says the engine cannot be reached (exit 125) when its socket is absent or dead', async () => {
    // No socket at all: the default address under BERTH_RUN.
    const noEnv = { BERTH_RUN: join(dir, 'run'), BERTH_ROOT: join(dir, 'root') };
    const sock = join(dir, 'run', 'engine.sock');
    const msg = `berth: cannot reach the engine at unix:${sock}: is the stack running? (berth daemon up)\n`;
    for (const args of [['ps'], ['container', 'ls', '-a'], ['stop', 'a', 'b'], ['run', '--rm', 'alpine', 'true'], ['volume', 'ls'], ['info'], ['inspect', 'x']]) {
      const r = await berth(args, noEnv);
      expect(r.stderr, args.join(' ')).toBe(msg);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    // A socket file with nobody listening (a crashed engine): gRPC's connection failure gets the same message.
    const dead = join(dir, 'dead.sock');
    const s = createServer();
    await new Promise<void>((r) => s.listen(dead, r));
    await new Promise<void>((r) => { (s as unknown as { _handle: { close(): void } | null })._handle?.close(); r(); }); // close the fd, keep the file
    const r = await berth(['ps'], { ...noEnv, BERTH_ENGINE_ADDR: `unix:${dead}` });
    expect(r.stderr).toBe(`berth: cannot reach the engine at unix:${dead}: is the stack running? (berth daemon up)\n`);
    expect(r.code).toBe(125);
    // -H overrides the address.
    const h = await berth(['-H', join(dir, 'elsewhere.sock'), 'ps'], noEnv);
    expect(h.stderr).toBe(`berth: cannot reach the engine at unix:${join(dir, 'elsewhere.sock')}: is the stack running? (berth daemon up)\n`);
    expect(h.code).toBe(125);
    // Docker's unix:///path spelling is accepted.
    const u = await berth(['-H', `unix://${join(dir, 'elsewhere.sock')}`, 'ps'], noEnv);
    expect(u.stderr).toBe(`berth: cannot reach the engine at unix:${join(dir, 'elsewhere.sock')}: is the stack running? (berth daemon up)\n`);
    // The images service has its own message.
    const im = await berth(['images'], noEnv);
    expect(im.stderr).toBe(`berth: cannot reach the images service at unix:${join(dir, 'run', 'images.sock')}: is the stack running? (berth daemon up)\n`);
  });

  it('runs the same through bin/berth with its compile cache as without, and fills the cache', async () => {
    const bin = join(appDir, 'bin', 'berth');
    const cache = join(dir, 'v8-cache');
    // From the module tree, whether or not the bundle is current (test/cli-bundle.test.ts covers the bundle): one cache entry per module.
    const viaBin = (args: string[], extra: Record<string, string>) => new Promise<Result>((done) => {
      execFile(bin, args, { env: { PATH: process.env.PATH ?? '', ...env, BERTH_CLI_BUNDLE: 'off', ...extra }, timeout: 30_000 }, (err, stdout, stderr) =>
        done({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }));
    });
    for (const args of [['run', '--help'], ['run', '--memory', 'lots', 'alpine'], ['version']]) {
      const plain = await viaBin(args, { BERTH_COMPILE_CACHE: 'off' });
      const cold = await viaBin(args, { BERTH_COMPILE_CACHE: cache });
      const warm = await viaBin(args, { BERTH_COMPILE_CACHE: cache });
      expect(cold, args.join(' ')).toEqual(plain);
      expect(warm, args.join(' ')).toEqual(plain);
    }
    expect(readdirSync(cache).length).toBeGreaterThan(20); // the CLI's modules, grpc-js's, protobufjs's
  });

  it('keeps berth daemon working through the new dispatcher', async () => {
    const r = await berth(['daemon', 'status'], { BERTH_RUN: join(dir, 'run'), BERTH_ROOT: join(dir, 'root') });
    expect(r.code).toBe(1); // nothing serving
    expect(r.stdout).toMatch(/^SERVICE\s+HEALTH\s+PID\s+SOCKET/);
    expect(r.stdout).toMatch(/^engine\s+UNREACHABLE/m);
    const bad = await berth(['daemon', 'up', '--splitt'], { BERTH_RUN: join(dir, 'run'), BERTH_ROOT: join(dir, 'root') });
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('unknown flag: --splitt');
  });
});
