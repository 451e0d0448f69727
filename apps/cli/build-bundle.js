#!/usr/bin/env node
// Bundles the built CLI (dist/main.js and the workspace libs it requires,
// after `tsc -b`) into dist/berth.js with esbuild, and lists what it was built
// from in dist/berth.bundle.json; bin/berth starts from it while it is current
// (src/launch.ts says why and when). Run by the app's nx build target
// (`npm run build`) and by scripts/setup.sh.
'use strict';
const { mkdtempSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { dirname, join, relative, resolve } = require('node:path');
const esbuild = require('esbuild');

const appDir = __dirname;
const repo = join(appDir, '..', '..');
// `build-bundle.js [dir]`: elsewhere than dist/ (the e2e test's own copy).
const outDir = process.argv[2] ? resolve(process.argv[2]) : join(appDir, 'dist');
const outfile = join(outDir, 'berth.js');
const manifest = join(outDir, 'berth.bundle.json');

// In the bundle: the workspace (@berth/*) and protobufjs/minimal with `long`,
// which every call's codecs use (required from node_modules, `long` alone
// cost ~10% of a `berth version`: its resolution and the checks Node makes on
// a "type": "module" package). Every other package stays a require() from
// node_modules: they serve a few commands only (grpc-js for TCP addresses,
// nats and pino for `daemon`, koffi with its native addon) or cannot be
// bundled.
const BUNDLED = /^(@berth\/|protobufjs\/minimal$|@protobufjs\/|long$)/;
const onlyHotPackages = {
  name: 'only-hot-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || BUNDLED.test(args.path)) return undefined;
      return { path: args.path, external: true };
    });
  },
};

// Workspace modules find files beside them (the compiled protos, the seccomp
// profile, the repository root for `daemon up`) through __dirname and
// __filename; in the bundle those would name dist/. Each keeps its own, as a
// path relative to the bundle, so a moved tree still works.
const ownDirname = {
  name: 'own-dirname',
  setup(build) {
    build.onLoad({ filter: /\/(libs|apps)\/[^/]+\/dist\/.+\.js$/ }, async (args) => {
      const source = await require('node:fs/promises').readFile(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
      const here = (p) => `require("node:path").join(__dirname, ${JSON.stringify(relative(outDir, p))})`;
      const contents =
        `var __own_dirname = ${here(dirname(args.path))}, __own_filename = ${here(args.path)};\n` +
        source.replace(/\b__dirname\b/g, '__own_dirname').replace(/\b__filename\b/g, '__own_filename');
      return { contents, loader: 'js' };
    });
  },
};

// The codecs of the calls a CLI start is timed by (`berth run` in the
// foreground, `berth version`), with every message type they reach: carried
// in the bundle instead of read from libs/proto/src/generated/codecs/ one file
// each at run time (libs/proto/src/bundled-codecs.ts). Other calls' codecs
// load from their files as before.
const HOT_METHODS = { 'berth.engine.v1.Engine': ['RunAttached', 'Version'] };
const GENERATED = join(repo, 'libs', 'proto', 'src', 'generated');
const hotCodecs = {
  name: 'hot-codecs',
  setup(build) {
    build.onLoad({ filter: /\/libs\/proto\/dist\/bundled-codecs\.js$/ }, () => {
      const wire = JSON.parse(require('node:fs').readFileSync(join(GENERATED, 'wire.json'), 'utf8'));
      const names = new Set();
      const reach = (type) => {
        if (!type || names.has(type) || !wire.types[type]) return; // scalars and enums have no codec module
        names.add(type);
        for (const field of wire.types[type].f) reach(field);
      };
      for (const [service, methods] of Object.entries(HOT_METHODS)) {
        for (const m of methods) {
          const method = wire.services[service]?.[m];
          if (!method) throw new Error(`HOT_METHODS: ${service}.${m} is not in wire.json`);
          reach(method.requestType);
          reach(method.responseType);
        }
      }
      const entries = [...names].sort().map((n) => `  ${JSON.stringify(n)}: () => require(${JSON.stringify(join(GENERATED, 'codecs', `${n}.js`))}),`);
      return { contents: `exports.BUNDLED_CODECS = {\n${entries.join('\n')}\n};\n`, loader: 'js', resolveDir: GENERATED };
    });
  },
};

async function main() {
  const result = await esbuild.build({
    absWorkingDir: repo,
    entryPoints: [join(appDir, 'dist', 'main.js')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    metafile: true,
    outfile,
    logLevel: 'warning',
    plugins: [onlyHotPackages, hotCodecs, ownDirname],
  });
  // Each workspace project in the bundle, by its build info; the lock for the packages.
  const projects = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /^((?:libs|apps)\/[^/]+)\/dist\//.exec(input);
    if (m) projects.add(m[1]);
  }
  const builtFrom = [...projects].sort().map((p) => relative(appDir, join(repo, p, 'dist', '.tsbuildinfo')));
  // The generated protos (rewritten only where they changed) for the codecs in it.
  builtFrom.push(relative(appDir, join(GENERATED, 'protos.json')), relative(appDir, join(repo, 'package-lock.json')));

  // Renamed into place: a CLI starting meanwhile reads the old bundle or the new one, whole.
  const tmp = mkdtempSync(join(outDir, '.bundle-'));
  try {
    writeFileSync(join(tmp, 'berth.js'), result.outputFiles[0].contents);
    writeFileSync(join(tmp, 'berth.bundle.json'), `${JSON.stringify({ builtFrom }, null, 2)}\n`);
    renameSync(join(tmp, 'berth.bundle.json'), manifest);
    renameSync(join(tmp, 'berth.js'), outfile);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const kib = Math.round(result.outputFiles[0].contents.length / 1024);
  process.stderr.write(`[bundle] ${relative(repo, outfile)}: ${kib} KiB from ${projects.size} projects\n`);
}

main().catch((e) => {
  process.stderr.write(`[bundle] ${e.stack || e}\n`);
  process.exit(1);
});
