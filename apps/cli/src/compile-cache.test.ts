// The compile cache must never change what runs: an edited module (even one
// of the same length, which V8's own check would let through) is compiled
// afresh, a damaged cache entry is rejected and rewritten, and modules still
// get Node's require, module, __filename and __dirname.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';

describe('compile cache', () => {
  let dir: string;
  let cache: string;
  let runner: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-ccache-'));
    cache = join(dir, 'cache');
    // This file's sibling compiled on its own, so the test needs no build of dist/.
    const src = readFileSync(resolve(__dirname, 'compile-cache.ts'), 'utf8');
    writeFileSync(join(dir, 'compile-cache.js'), ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText);
    writeFileSync(join(dir, 'dep.js'), "exports.name = 'dep';\n");
    // A module that uses what Node's wrapper gives it.
    runner = join(dir, 'run.js');
    writeFileSync(runner, [
      `require(${JSON.stringify(join(dir, 'compile-cache.js'))}).enableCompileCache(process.argv[2]);`,
      `const m = require(${JSON.stringify(join(dir, 'mod.js'))});`,
      'console.log(JSON.stringify(m));',
    ].join('\n'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (): unknown => JSON.parse(execFileSync(process.execPath, [runner, cache], { encoding: 'utf8' }));
  const writeModule = (value: number) =>
    writeFileSync(join(dir, 'mod.js'), `#!/usr/bin/env node\nconst path = require('node:path');\nmodule.exports = { value: ${value}, dep: require('./dep').name, file: path.basename(__filename), dir: __dirname, resolved: path.basename(require.resolve('./dep')), main: require.main === module };\n`);

  it('fills the cache on the first run and runs the same from it', () => {
    writeModule(1);
    const first = run();
    expect(first).toEqual({ value: 1, dep: 'dep', file: 'mod.js', dir, resolved: 'dep.js', main: false });
    const entries = readdirSync(cache);
    expect(entries.length).toBeGreaterThanOrEqual(2); // mod.js and dep.js
    expect(entries.some((e) => e.endsWith('.tmp'))).toBe(false);
    expect(run()).toEqual(first);
    expect(readdirSync(cache).sort()).toEqual(entries.sort()); // nothing rewritten: the entries were used
  });

  it('compiles an edited module afresh, even at the same length', () => {
    writeModule(2);
    expect(run()).toMatchObject({ value: 2 });
    writeModule(3);
    expect(run()).toMatchObject({ value: 3 });
  });

  it('rejects a damaged entry, runs correctly and rewrites it', () => {
    writeModule(4);
    run();
    const before = new Set(readdirSync(cache));
    writeModule(5);
    run();
    const entry = readdirSync(cache).find((e) => !before.has(e))!;
    writeFileSync(join(cache, entry), 'not V8 code cache data');
    expect(run()).toMatchObject({ value: 5 });
    expect(readFileSync(join(cache, entry), 'utf8')).not.toBe('not V8 code cache data');
  });

  it('names the entry of a file by the key its caller gives (the bundle), not by hashing its source', () => {
    writeModule(7);
    const keyed = join(dir, 'run-keyed.js');
    const keyedCache = join(dir, 'keyed-cache');
    writeFileSync(keyed, [
      `require(${JSON.stringify(join(dir, 'compile-cache.js'))}).enableCompileCache(process.argv[2], new Map([[${JSON.stringify(join(dir, 'mod.js'))}, 'bundle-known']]));`,
      `console.log(JSON.stringify(require(${JSON.stringify(join(dir, 'mod.js'))})));`,
    ].join('\n'));
    const runKeyed = () => JSON.parse(execFileSync(process.execPath, [keyed, keyedCache], { encoding: 'utf8' }));
    expect(runKeyed()).toMatchObject({ value: 7 });
    expect(readdirSync(keyedCache)).toContain('bundle-known');
    expect(runKeyed()).toMatchObject({ value: 7 });
  });

  it('runs uncached when the cache directory cannot be made', () => {
    writeFileSync(join(dir, 'blocker'), '');
    writeModule(6);
    expect(JSON.parse(execFileSync(process.execPath, [runner, join(dir, 'blocker', 'cache')], { encoding: 'utf8' }))).toMatchObject({ value: 6 });
  });
});
