// What a CLI start evaluates (docs/design/cli.md): `berth version` and
// `berth --help` take the command tree from @berth/cli-kit/start and never
// load run/create's request validation (container-config, cri-log, seccomp,
// node:net), which costs every start CPU time; `berth run` does when it builds
// its request. Runs the built module tree (dist/main.js) with a preload that
// records every module required, so a new import on the start path that pulls
// them back shows up here, not only in a timing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const mainJs = join(resolve(__dirname, '..'), 'dist', 'main.js');
const HEAVY = /\/libs\/(container-config|cri-log|seccomp)\/|^node:net$/;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-start-modules-'));
  // Appends each module's resolved name (builtins as node:x) to the file in BERTH_TEST_MODULES_OUT at exit.
  writeFileSync(join(dir, 'record.js'), `
const M = require('node:module'); const load = M._load; const seen = new Set();
M._load = function (request, parent, isMain) {
  try { seen.add(M.isBuiltin(request) ? (request.startsWith('node:') ? request : 'node:' + request) : M._resolveFilename(request, parent, isMain)); } catch {}
  return load.apply(this, arguments);
};
process.on('exit', () => require('node:fs').writeFileSync(process.env.BERTH_TEST_MODULES_OUT, [...seen].join('\\n')));
`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function modulesOf(name: string, args: string[]): Promise<{ code: number; modules: string[] }> {
  const out = join(dir, `${name}.txt`);
  const env = { PATH: process.env.PATH ?? '', BERTH_ENGINE_ADDR: `unix:${join(dir, 'absent.sock')}`, BERTH_TEST_MODULES_OUT: out };
  return new Promise((done) => {
    execFile(process.execPath, ['-r', join(dir, 'record.js'), mainJs, ...args], { env, timeout: 30_000 }, (err) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      done({ code, modules: readFileSync(out, 'utf8').split('\n') });
    });
  });
}

describe('the modules a berth start evaluates', () => {
  it('version and --help leave out the run request validation', async () => {
    for (const [name, args] of [['version', ['version']], ['help', ['--help']]] as const) {
      const r = await modulesOf(name, [...args]);
      expect(r.code, name).toBe(0);
      expect(r.modules.some((m) => m.endsWith('/libs/cli-kit/dist/run-flags.js')), name).toBe(true);
      expect(r.modules.filter((m) => HEAVY.test(m)), name).toEqual([]);
    }
  });

  it('run loads it to check its flags (a bad --memory is refused before any call)', async () => {
    const r = await modulesOf('run', ['run', '--memory', '1', 'alpine']);
    expect(r.code).toBe(125);
    const heavy = r.modules.filter((m) => HEAVY.test(m));
    expect(heavy.some((m) => m.includes('/libs/container-config/'))).toBe(true);
    expect(heavy.some((m) => m.includes('/libs/seccomp/'))).toBe(true);
  });
});
