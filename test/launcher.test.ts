// `npm start` puts `berth` on PATH: scripts/install-launcher.sh (run by
// setup.sh) writes a launcher for this tree's CLI, rewrites it when the tree
// moves, and leaves a `berth` that is not its own alone. Run here against a
// path in a temp dir instead of /usr/local/bin/berth.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
const SCRIPT = join(ROOT, 'scripts', 'install-launcher.sh');

describe('scripts/install-launcher.sh', () => {
  let dir: string;
  let launcher: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-launcher-'));
    mkdirSync(join(dir, 'bin'));
    launcher = join(dir, 'bin', 'berth');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const install = (script = SCRIPT) => spawnSync('bash', [script, launcher], { encoding: 'utf8' });

  it('installs a launcher that runs this tree\'s CLI, and leaves it as it is on a second run', () => {
    expect(install().status).toBe(0);
    expect(statSync(launcher).mode & 0o777).toBe(0o755);
    expect(readFileSync(launcher, 'utf8')).toContain(join(ROOT, 'apps', 'cli', 'bin', 'berth'));
    const help = execFileSync(launcher, ['--help'], { encoding: 'utf8', env: { ...process.env, BERTH_COMPILE_CACHE: 'off' } });
    expect(help).toMatch(/Usage:\s+berth/);
    const before = statSync(launcher).mtimeMs;
    expect(install().stderr).not.toContain('installed');
    expect(statSync(launcher).mtimeMs).toBe(before);
  });

  it('points the launcher at the tree it is run from when the tree moves', () => {
    expect(install().status).toBe(0);
    const moved = join(dir, 'moved');
    mkdirSync(join(moved, 'scripts'), { recursive: true });
    copyFileSync(SCRIPT, join(moved, 'scripts', 'install-launcher.sh'));
    const r = install(join(moved, 'scripts', 'install-launcher.sh'));
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`installed ${launcher}`);
    expect(readFileSync(launcher, 'utf8')).toContain(join(moved, 'apps', 'cli', 'bin', 'berth'));
    expect(readFileSync(launcher, 'utf8')).not.toContain(join(ROOT, 'apps'));
  });

  it('leaves a berth that is not its launcher alone', () => {
    const foreign = '#!/bin/sh\necho "another berth"\n';
    writeFileSync(launcher, foreign, { mode: 0o755 });
    const r = install();
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('is not berth\'s launcher: left alone');
    expect(readFileSync(launcher, 'utf8')).toBe(foreign);
  });
});
