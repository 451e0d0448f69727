#!/usr/bin/env node
// A step of `npm test`: every program the tree runs, every Python module its
// fixtures import and every proto include protoc needs must come from a
// Debian package that scripts/setup.sh installs (or from Debian's required
// base), so a fresh machine that ran setup.sh builds, runs and tests berth.
//
// Found by reading the tree, not by a list kept by hand:
//   - calls that run a program: spawn/execFile/run/sh...('<program>', [args])
//     and absolute program paths ('/usr/bin/docker-registry') in TypeScript,
//     JavaScript, shell and Python sources;
//   - `import x` / `from x import` in Python files;
//   - `import "google/..."` in protos/.
// Berth's own code (libs/ and apps/ outside tests) may use only the build and
// runtime lists (what `npm start` installs); tests, test helpers and bench/ may
// use the test list too. Each program is resolved on PATH and its file mapped
// to a package with dpkg -S; a program that is not installed at all fails too.
// Absolute paths under /usr/local or /opt (installed by hand) are warned about
// on every run, not yet failed: test/docker-cli.test.ts runs /usr/local/bin/docker.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readFileSync, realpathSync, statSync } = require('node:fs');
const { delimiter, join } = require('node:path');

const root = join(__dirname, '..');
const sh = (cmd, args) => execFileSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const list = (which) => sh('bash', ['scripts/setup.sh', '--list', which]).split('\n').filter(Boolean);
const lists = { build: list('build'), runtime: list('runtime'), test: list('test') };
// A listed package brings its dependencies (python3 brings python3-minimal): the closure counts.
function closure(pkgs) {
  let out = '';
  try {
    out = sh('apt-cache', ['depends', '--recurse', '--installed', '--no-recommends', '--no-suggests', '--no-conflicts',
      '--no-breaks', '--no-replaces', '--no-enhances', ...pkgs]);
  } catch (e) {
    out = e.stdout ?? '';
  }
  return new Set([...pkgs, ...out.split('\n').filter((l) => l && !l.startsWith(' ')).map((l) => l.replace(/^<|>$/g, '').replace(/:\w+$/, ''))]);
}
const runtimeAllowed = closure([...lists.build, ...lists.runtime]);
const testAllowed = closure([...lists.build, ...lists.runtime, ...lists.test]);

// The toolchain npm start and npm test already run under (not from Debian here).
const NODE_TOOLS = new Set(['node', 'npm', 'npx']);
// Functions that run their first argument as a program with an argument array.
const RUNNERS = 'spawn|spawnSync|execFile|execFileSync|execSync|exec|run|runCommand|mustRun|sh|cliConcurrent';
const CALL = new RegExp(`(?<![\\w.$])(?:${RUNNERS})\\(\\s*['"\`]([a-zA-Z0-9_./+-]+)['"\`]\\s*,\\s*\\[`, 'g');
const PY_CALL = /(?:subprocess\.\w+|os\.exec\w*)\(\s*\[\s*"([a-zA-Z0-9_./+-]+)"/g;
const PY_ARGV = /\bargs\s*=\s*\[\s*"([a-zA-Z0-9_./+-]+)"/g;
const ABS_PROGRAM = /['"`=](\/(?:usr\/)?s?bin\/[a-zA-Z0-9_.+-]+|\/usr\/lib\/cni\/[a-zA-Z0-9_.+-]+)['"`\s]/g;
// Programs installed by hand (/usr/local, /opt): no package provides them on a fresh machine.
const LOCAL_PROGRAM = /['"`=](\/(?:usr\/local|opt)\/[a-zA-Z0-9_./+-]*bin\/[a-zA-Z0-9_.+-]+)['"`\s]/g;

const isTestPath = (f) =>
  /(^|\/)(test|tests|testing|fixtures|bench)\//.test(f) || /\.test\.[cm]?[jt]s$/.test(f) || /(^|\/)testing\.ts$/.test(f) || f.startsWith('bench/');

const files = sh('git', ['ls-files', '-co', '--exclude-standard', 'libs', 'apps', 'test', 'bench', 'protos'])
  .split('\n')
  .filter((f) => f && !/(^|\/)(dist|node_modules|generated)\//.test(f) && /\.(ts|mts|js|mjs|cjs|py|sh|proto)$/.test(f))
  .filter((f) => existsSync(join(root, f)));

const pathDirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
function which(program) {
  if (program.includes('/')) return isExecutable(program) ? program : undefined;
  for (const d of pathDirs) if (d && isExecutable(join(d, program))) return join(d, program);
  return undefined;
}
function isExecutable(p) {
  try {
    const s = statSync(p);
    return s.isFile() && (s.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Spellings of one file dpkg may have recorded: as given, resolved, and either side of the /usr merge. */
function spellings(file) {
  const out = new Set([file]);
  try {
    out.add(realpathSync(file));
  } catch { /* absent */ }
  for (const c of [...out]) out.add(c.startsWith('/usr/') ? c.slice(4) : '/usr' + c);
  return [...out];
}
const owners = new Map(); // path -> package, filled by one dpkg -S for all paths (it is slow per call)
function lookUpOwners(files) {
  const paths = [...new Set(files.flatMap(spellings))].filter((p) => !owners.has(p));
  if (!paths.length) return;
  let out = '';
  try {
    out = sh('dpkg', ['-S', ...paths]);
  } catch (e) {
    out = e.stdout ?? ''; // exit 1 when some path has no owner; the others are still printed
  }
  for (const p of paths) owners.set(p, undefined);
  for (const line of out.split('\n')) {
    const m = /^([^:]+(?::\w+)?(?:, [^:]+)*): (\/.*)$/.exec(line);
    if (!m || line.startsWith('diversion')) continue;
    owners.set(m[2], m[1].split(',')[0].trim().replace(/:\w+$/, ''));
  }
}
/** The Debian package that installed `file` (following symlinks and the /usr merge), or undefined. */
function packageOf(file) {
  lookUpOwners([file]);
  for (const c of spellings(file)) if (owners.get(c)) return owners.get(c);
  return undefined;
}
// Debian's required base (tar, coreutils, util-linux...) is on every system.
const required = new Set(sh('dpkg-query', ['-W', '-f=${Package} ${Priority}\n']).split('\n')
  .filter((l) => l.endsWith(' required')).map((l) => l.split(' ')[0]));
const isRequired = (pkg) => required.has(pkg);

const uses = []; // { kind, name, file, line, test }
const lineOf = (text, index) => text.slice(0, index).split('\n').length;
for (const f of files) {
  const text = readFileSync(join(root, f), 'utf8');
  const test = isTestPath(f);
  const add = (kind, name, index) => uses.push({ kind, name, file: f, line: lineOf(text, index), test });
  if (f.endsWith('.proto')) {
    for (const m of text.matchAll(/^import\s+(?:public\s+)?"(google\/[^"]+)"/gm)) add('proto', m[1], m.index);
    continue;
  }
  const patterns = f.endsWith('.py') ? [PY_CALL, PY_ARGV, ABS_PROGRAM] : [CALL, ABS_PROGRAM];
  for (const re of patterns) for (const m of text.matchAll(re)) add('program', m[1], m.index);
  for (const m of text.matchAll(LOCAL_PROGRAM)) add('local', m[1], m.index);
  if (f.endsWith('.py')) {
    for (const m of text.matchAll(/^(?:import\s+([A-Za-z_][\w]*)|from\s+([A-Za-z_][\w]*)[\w.]*\s+import\b)/gm)) add('python', m[1] ?? m[2], m.index);
  }
}

// Where Debian's python3 finds each module the fixtures import ("" when built in, null when missing).
const pythonModules = [...new Set(uses.filter((u) => u.kind === 'python').map((u) => u.name))];
const PY_FIND = 'import importlib.util, json, sys\nout = {}\nfor n in sys.argv[1:]:\n' +
  '    try:\n        s = importlib.util.find_spec(n)\n    except Exception:\n        s = None\n' +
  '    out[n] = None if s is None else (s.origin if s.origin not in (None, "built-in", "frozen") else "")\nprint(json.dumps(out))';
const pythonFiles = pythonModules.length ? JSON.parse(sh('/usr/bin/python3', ['-c', PY_FIND, ...pythonModules])) : {};
lookUpOwners([
  ...uses.filter((u) => u.kind === 'program').map((u) => which(u.name)).filter(Boolean),
  ...Object.values(pythonFiles).filter(Boolean),
  ...uses.filter((u) => u.kind === 'proto').map((u) => join('/usr/include', u.name)).filter(existsSync),
]);

const problems = [];
const checked = new Map(); // kind:name:test -> verdict, so each is reported once
for (const u of uses) {
  const key = `${u.kind}:${u.name}:${u.test}`;
  if (checked.has(key)) continue;
  const allowed = u.test ? testAllowed : runtimeAllowed;
  const where = `${u.file}:${u.line}`;
  const need = u.test ? 'the test list (or build/runtime)' : 'the build or runtime list (berth itself runs it)';
  let verdict = 'ok';
  if (u.kind === 'program') {
    if (NODE_TOOLS.has(u.name) || u.name.startsWith('/nonexistent') || u.name.startsWith('./')) { checked.set(key, verdict); continue; }
    const path = which(u.name);
    if (!path) {
      // Absolute paths that are not programs here (a container's /bin/sh is the host's too) are
      // checked only when they exist; a bare name must resolve.
      verdict = u.name.includes('/') ? 'ok' : `${u.name} (run at ${where}) is not installed: add the Debian package that provides it to ${need} in scripts/setup.sh`;
    } else {
      const pkg = packageOf(path);
      if (!pkg) verdict = `${u.name} (run at ${where}) is ${path}, which no Debian package installed: install it from a package listed in scripts/setup.sh`;
      else if (!allowed.has(pkg) && !isRequired(pkg)) verdict = `${u.name} (run at ${where}) comes from ${pkg}, which is not in ${need} of scripts/setup.sh`;
    }
  } else if (u.kind === 'python') {
    const file = pythonFiles[u.name];
    if (file === null || file === undefined) {
      verdict = `Python module ${u.name} (imported at ${where}) is not installed for /usr/bin/python3: add its python3-* package to ${need} in scripts/setup.sh`;
    }
    if (verdict === 'ok') {
      // The standard library (built in, or under /usr/lib/python3.X/ but not dist-packages) comes with python3.
      const pkg = file ? packageOf(file) : 'python3'; // no file: built into the interpreter
      if (!pkg) verdict = `Python module ${u.name} (imported at ${where}) is ${file}, which no Debian package installed`;
      else if (!allowed.has(pkg)) verdict = `Python module ${u.name} (imported at ${where}) comes from ${pkg}, which is not in ${need} of scripts/setup.sh`;
    }
  } else if (u.kind === 'proto') {
    const inTree = existsSync(join(root, 'protos', u.name));
    if (!inTree) {
      // protoc finds these under its default include path, /usr/include.
      const file = join('/usr/include', u.name);
      const pkg = existsSync(file) ? packageOf(file) : undefined;
      // protos/ are compiled by the Python client test: a test need.
      if (!pkg) verdict = `${u.name} (imported at ${where}) is not installed: add the package providing /usr/include/${u.name} (libprotobuf-dev) to scripts/setup.sh`;
      else if (!testAllowed.has(pkg)) verdict = `${u.name} (imported at ${where}) comes from ${pkg}, which is not in scripts/setup.sh`;
    }
  }
  checked.set(key, verdict);
  if (verdict !== 'ok') problems.push(verdict);
}

// Not failed yet (a test depends on one today): said on every run until a package provides it.
for (const u of uses.filter((x) => x.kind === 'local')) {
  console.error(`check-packages: warning: ${u.name} (run at ${u.file}:${u.line}) is installed by hand, not by a Debian package scripts/setup.sh lists: a fresh machine lacks it`);
}

const programs = new Set(uses.filter((u) => u.kind === 'program').map((u) => u.name));
if (problems.length) {
  for (const p of problems) console.error(`check-packages: ${p}`);
  process.exit(1);
}
console.log(`check-packages: ${programs.size} programs, ${new Set(uses.filter((u) => u.kind === 'python' || u.kind === 'proto').map((u) => u.name)).size} Python modules and proto includes, all from packages scripts/setup.sh installs`);
