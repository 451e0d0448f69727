// berth network connect / disconnect as a process, without a stack: bad
// flags and arguments are refused (exit 125, naming the flag) before any
// service is contacted; good ones reach the engine. What the engine does
// with them is tested in libs/engine (network-connect.test.ts, service.e2e).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const appDir = resolve(__dirname, '..');
const mainJs = join(appDir, 'dist', 'main.js');

interface Result { code: number; stdout: string; stderr: string }

function berth(args: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((done) => {
    execFile(process.execPath, [mainJs, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

describe('berth network connect/disconnect arguments (no stack)', () => {
  let dir: string;
  let listener: Server;
  let connections = 0;
  let env: Record<string, string>;

  beforeAll(async () => {
    execFileSync('npx', ['tsc', '-b'], { cwd: appDir, stdio: 'pipe', timeout: 120_000 });
    dir = mkdtempSync(join(tmpdir(), 'berth-cli-netconn-'));
    // Counts connections: a refused command must never open one.
    listener = createServer((s) => { connections++; s.destroy(); });
    await new Promise<void>((r) => listener.listen(join(dir, 'engine.sock'), r));
    env = {
      BERTH_RUN: join(dir, 'run'), BERTH_ROOT: join(dir, 'root'),
      BERTH_ENGINE_ADDR: `unix:${join(dir, 'engine.sock')}`, BERTH_NETWORKS_ADDR: `unix:${join(dir, 'engine.sock')}`,
    };
  });

  afterAll(async () => {
    await new Promise<void>((r) => (listener ? listener.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses bad flags and arguments with exit 125 before contacting the engine', async () => {
    const cases: [string[], RegExp][] = [
      [['network', 'connect', '--ip', '10.1.2', 'back', 'web'], /invalid argument "10\.1\.2" for "--ip": expected an IPv4 address/],
      [['network', 'connect', '--ip', '10.1.2.300', 'back', 'web'], /invalid argument "10\.1\.2\.300" for "--ip"/],
      [['network', 'connect', '--ip', 'fe80::1', 'back', 'web'], /for "--ip"/],
      [['network', 'connect', '--alias', 'bad alias', 'back', 'web'], /invalid argument "bad alias" for "--alias"/],
      [['network', 'connect', '--alias', 'ok', '--alias', '-dash', 'back', 'web'], /invalid argument "-dash" for "--alias"/],
      [['network', 'connect', 'back'], /"berth network connect" requires exactly 2 arguments/],
      [['network', 'connect', 'back', 'web', 'extra'], /"berth network connect" requires exactly 2 arguments/],
      [['network', 'disconnect', 'back'], /"berth network disconnect" requires exactly 2 arguments/],
      [['network', 'disconnect', '--ip', '10.0.0.1', 'back', 'web'], /unknown flag: --ip/],
      [['network', 'connect', '--bogus', 'back', 'web'], /unknown flag: --bogus/],
      [['network', 'connect', '--link', ':db', 'back', 'web'], /invalid argument ":db" for "--link": expected CONTAINER\[:ALIAS\]/],
      [['network', 'connect', '--link', 'db:a:b', 'back', 'web'], /invalid argument "db:a:b" for "--link"/],
      [['network', 'connect', '--link', 'db:bad alias', 'back', 'web'], /for "--link"/],
      [['network', 'connect', '', 'web'], /needs a network name/],
      [['network', 'disconnect', 'back', ''], /needs a container name or id/],
    ];
    for (const [args, re] of cases) {
      const r = await berth(args, env);
      const label = args.join(' ');
      expect(r.stderr, label).toMatch(re);
      expect(r.stderr, label).toMatch(/^berth: /);
      expect(r.code, label).toBe(125);
      expect(r.stdout, label).toBe('');
    }
    expect(connections).toBe(0);
  });

  it('passes good arguments on to the engine', async () => {
    for (const args of [
      ['network', 'connect', '--ip', '10.219.140.7', '--alias', 'api', '--alias', 'db.internal', '--link', 'db:database', '--link', 'cache', 'back', 'web'],
      ['network', 'disconnect', '-f', 'back', 'web'],
    ]) {
      const before = connections;
      const r = await berth(args, env);
      // The fake engine hangs up: berth says it cannot reach it (not a flag error).
      expect(r.stderr, args.join(' ')).toMatch(/cannot reach the engine/);
      expect(connections, args.join(' ')).toBeGreaterThan(before);
    }
  });
});
