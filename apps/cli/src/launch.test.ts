// bin/berth must never run a bundle older than the code it was built from:
// after a `tsc -b` of a lib it runs the module tree until the bundle is
// rebuilt, and a rebuilt bundle gets a compile-cache key of its own.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE_FILE, BUNDLE_MANIFEST, currentBundle } from './launch';

describe('currentBundle', () => {
  let dir: string;
  let app: string;
  const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-launch-'));
    app = join(dir, 'apps', 'cli');
    mkdirSync(join(app, 'dist'), { recursive: true });
    mkdirSync(join(dir, 'libs', 'kit', 'dist'), { recursive: true });
    writeFileSync(join(app, 'dist', '.tsbuildinfo'), '{}');
    writeFileSync(join(dir, 'libs', 'kit', 'dist', '.tsbuildinfo'), '{}');
    writeFileSync(join(dir, 'package-lock.json'), '{}');
    for (const f of [join(app, 'dist', '.tsbuildinfo'), join(dir, 'libs', 'kit', 'dist', '.tsbuildinfo'), join(dir, 'package-lock.json')]) at(f, 1000);
    writeFileSync(join(app, BUNDLE_FILE), 'module.exports = {};');
    writeFileSync(join(app, BUNDLE_MANIFEST), JSON.stringify({ builtFrom: ['dist/.tsbuildinfo', '../../libs/kit/dist/.tsbuildinfo', '../../package-lock.json'] }));
    at(join(app, BUNDLE_FILE), 2000);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is the bundle while it is newer than every build it was made from', () => {
    expect(currentBundle(app)).toMatchObject({ file: join(app, BUNDLE_FILE) });
  });

  it('is none once a lib it holds is built again, or the packages change', () => {
    at(join(dir, 'libs', 'kit', 'dist', '.tsbuildinfo'), 3000);
    expect(currentBundle(app)).toBeUndefined();
    at(join(dir, 'libs', 'kit', 'dist', '.tsbuildinfo'), 1000);
    at(join(dir, 'package-lock.json'), 3000);
    expect(currentBundle(app)).toBeUndefined();
  });

  it('is none without its manifest or when a listed build is gone (a tsc-only build, a clean)', () => {
    rmSync(join(dir, 'libs', 'kit', 'dist', '.tsbuildinfo'));
    expect(currentBundle(app)).toBeUndefined();
    writeFileSync(join(dir, 'libs', 'kit', 'dist', '.tsbuildinfo'), '{}');
    at(join(dir, 'libs', 'kit', 'dist', '.tsbuildinfo'), 1000);
    expect(currentBundle(app)).toBeDefined();
    rmSync(join(app, BUNDLE_MANIFEST));
    expect(currentBundle(app)).toBeUndefined();
  });

  it('names a rebuilt bundle by a new compile-cache key, even at the same size and time', () => {
    const first = currentBundle(app)!.key;
    const next = join(app, 'dist', 'next.js');
    writeFileSync(next, 'module.exports = [];');
    at(next, 2000);
    renameSync(next, join(app, BUNDLE_FILE));
    expect(currentBundle(app)!.key).not.toBe(first);
  });
});
