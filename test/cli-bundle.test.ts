// The CLI's bundle (apps/cli/build-bundle.js, what bin/berth starts from when
// it is current) behaves as the module tree it is built from: the same output,
// errors and exit codes, for commands that reach the engine, the images
// service, files beside the libs' own code (the compiled protos, the seccomp
// profile, the repository root of `daemon status`) and packages kept outside
// it. Built afresh here from this tree, so the comparison is never against a
// stale bundle.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BERTH_BIN, startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const SUBNET = 227; // 10.219.227.0/24: this file's
const APP = resolve(__dirname, '..', 'apps', 'cli');

describe('the CLI bundle', () => {
  let s: CliStack;
  let dir: string;
  let runner: string;

  // Inside the app's dist/: the packages the bundle leaves out resolve from the tree's node_modules.
  const exec = (args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> =>
    new Promise((res, rej) => {
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', rej);
      child.on('close', (code) => { clearTimeout(t); res({ code: code ?? -1, stdout, stderr }); });
    });
  const fromBundle = (args: string[]) => exec([runner, ...args], s.env);
  const fromTree = (args: string[]) => exec([BERTH_BIN, ...args], { ...s.env, BERTH_CLI_BUNDLE: 'off' });

  beforeAll(async () => {
    dir = mkdtempSync(join(APP, 'dist', '.e2e-bundle-'));
    const built = await exec([join(APP, 'build-bundle.js'), dir], process.env);
    expect(built.code, built.stderr).toBe(0);
    runner = join(dir, 'run.js');
    writeFileSync(runner, "require('./berth.js').run();\n");
    s = await startCliStack(false, SUBNET);
    await until('busybox image', async () => ((await fromTree(['image', 'inspect', 'busybox'])).code === 0 ? true : undefined), 30_000);
    // A container to inspect: 64-bit fields (nanosecond times, sizes) decoded by each.
    expect((await fromTree(['create', '--name', 'bundled', '-m', '64m', 'busybox', 'true'])).code).toBe(0);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it.each([
    ['help', ['--help']],
    ['a command\'s help', ['run', '--help']],
    ['an unknown command (125)', ['no-such-command']],
    ['a bad flag value, refused before any call', ['run', '--cpus', 'lots', 'busybox', 'true']],
    ['the server\'s version (compiled protos over HTTP/2)', ['version', '--format', '{{.Server.ApiVersion}} {{.Server.Version}}']],
    ['a foreground run with its exit code', ['run', '--rm', 'busybox', 'sh', '-c', 'echo hi; echo err >&2; exit 3']],
    ['a run without seccomp (the profile beside libs/seccomp)', ['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'echo', 'unconfined']],
    ['the images service', ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}} {{.CreatedAt}} {{.Size}}']],
    ['a container\'s inspect (64-bit times and sizes)', ['inspect', 'bundled']],
    ['an engine error for a missing container', ['inspect', 'no-such-container']],
    ['daemon status (the repository root, nats outside the bundle)', ['daemon', 'status', '--format', '{{.Service}} {{.Health}} {{.Socket}}']],
  ] as const)('%s: the same as the module tree', async (_what, args) => {
    const [bundle, tree] = [await fromBundle([...args]), await fromTree([...args])];
    expect(bundle).toEqual(tree);
  });

  it('reaches the engine and runs a container (not only failing alike)', async () => {
    const r = await fromBundle(['run', '--rm', 'busybox', 'echo', 'from the bundle']);
    expect(r).toMatchObject({ code: 0, stdout: 'from the bundle\n' });
  });
});
