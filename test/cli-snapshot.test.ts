// The CLI started from its V8 startup snapshot (apps/cli/src/snapshot.ts, as
// the `berth` launcher on PATH runs it) must behave as bin/berth does: same
// output, exit codes and stdin, including commands whose modules load from
// the tree at run time (cp: tar and koffi; daemon status; events: nats).
// The snapshot is built here from the current dist/ (what setup.sh does).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BERTH_BIN, startCliStack, type CliResult, type CliStack } from './support/cli-stack';

const SUBNET = 244; // 10.219.244.0/24: this file's
const CLI = resolve(__dirname, '..', 'apps', 'cli');
const BLOB = resolve(CLI, 'dist', `berth-${process.version}.blob`);

describe('berth CLI from its startup snapshot', () => {
  let s: CliStack;

  /** Runs the CLI from the snapshot (snap) or bin/berth (plain) with the stack's environment. */
  const cli = (how: 'snap' | 'plain', args: string[], input?: string): Promise<CliResult> =>
    new Promise((done, fail) => {
      // `--`: what follows is the CLI's, not Node's (--help, -v, -H would be Node options), as the launcher passes it.
      const argv = how === 'snap' ? ['--snapshot-blob', BLOB, '--', ...args] : [BERTH_BIN, ...args];
      const child = spawn(process.execPath, argv, { env: s.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', fail);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(input ?? '');
    });

  beforeAll(async () => {
    execFileSync(process.execPath, [resolve(CLI, 'scripts', 'build-snapshot.js')], { stdio: 'pipe' });
    expect(statSync(BLOB).mtimeMs).toBeGreaterThanOrEqual(statSync(resolve(CLI, 'dist', 'main.js')).mtimeMs);
    s = await startCliStack(false, SUBNET);
  });

  afterAll(async () => {
    await s?.stop();
  });

  it('gives the same output and exit codes as bin/berth', async () => {
    expect(existsSync(BLOB)).toBe(true);
    for (const args of [['--help'], ['-v'], ['-H', 'unix:///nonexistent.sock', 'ps'], ['version'], ['nosuchcommand'], ['run', '--memory', 'lots', 'busybox', 'true'], ['ps', '-a']]) {
      const [snap, plain] = [await cli('snap', args), await cli('plain', args)];
      expect({ args, ...snap }).toEqual({ args, ...plain });
    }
  });

  it('runs containers: output, exit code, stdin, names', async () => {
    const echo = await cli('snap', ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(echo).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const cat = await cli('snap', ['run', '--rm', '-i', 'busybox', 'wc', '-c'], 'x'.repeat(100_000));
    expect(cat).toMatchObject({ code: 0, stdout: '100000\n' });
    const missing = await cli('snap', ['run', '--rm', 'busybox', 'no-such-binary']);
    expect(missing.code).toBe(127);
  });

  it('runs the commands that load modules from the tree (cp, daemon status, events)', async () => {
    const name = `snap-${s.tag}`;
    expect((await cli('snap', ['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'echo hi > /greeting; sleep 600'])).code).toBe(0);
    try {
      const tar = await cli('snap', ['cp', `${name}:/etc/hostname`, '-']);
      expect(tar.code).toBe(0);
      expect(tar.stdout).toContain('hostname');
      const status = await cli('snap', ['daemon', 'status', '--format', '{{.Service}} {{.Health}}']);
      expect(status.stdout).toContain('engine SERVING');
      const events = await cli('snap', ['events', '--since', '5m', '--until', '0s', '--filter', `container=${name}`]);
      expect(events.code).toBe(0);
      expect(events.stdout).toMatch(/container start/);
    } finally {
      await cli('snap', ['rm', '-f', name]);
    }
  });
});
