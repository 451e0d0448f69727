#!/usr/bin/env node
// Builds the CLI's V8 startup snapshot (apps/cli/src/snapshot.ts says why and
// how it is used): bundles dist/snapshot.js with esbuild, wraps the bundle so
// packages left outside it are required from the tree when a command runs,
// runs `node --build-snapshot` and writes dist/berth-<node version>.blob
// (a blob only starts the Node binary that built it). Run after tsc
// (scripts/setup.sh, `npm run build`). Exits non-zero with the reason when
// the snapshot cannot be built; the launcher then runs bin/berth as before.
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const app = resolve(__dirname, '..');
const dist = join(app, 'dist');
const generated = resolve(app, '..', '..', 'libs', 'proto', 'src', 'generated');
const blob = join(dist, `berth-${process.version}.blob`);

// Packages the bundle leaves out: native addons (koffi, better-sqlite3) and
// what only rare commands load (nats for daemon/events, grpc-js for TCP
// addresses, pino). They are required from the tree at run time.
const EXTERNAL = ['koffi', 'better-sqlite3', 'nats', '@grpc/grpc-js', '@grpc/proto-loader', '@grpc/reflection', 'grpc-health-check', 'pino', 'prom-client'];

const work = mkdtempSync(join(tmpdir(), 'berth-snapshot-'));
try {
  const bundle = join(work, 'bundle.js');
  require('esbuild').buildSync({
    entryPoints: [join(dist, 'snapshot.js')],
    bundle: true,
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    format: 'cjs',
    outfile: bundle,
    external: EXTERNAL,
    logLevel: 'error',
  });
  // The snapshot builder runs the entry as a script whose `require` knows
  // Node's built-in modules only. The bundle gets a `require` that uses that
  // one while the snapshot is built and, once a command runs, one rooted at
  // dist/ (the tree's node_modules) for the packages above.
  const entry = join(work, 'entry.js');
  writeFileSync(
    entry,
    `'use strict';
let treeRequire;
const bundleRequire = (id) => (treeRequire ? treeRequire(id) : require(id));
const bundled = { exports: {} };
(function (require, module, exports, __filename, __dirname) {
${readFileSync(bundle, 'utf8')}
})(bundleRequire, bundled, bundled.exports, ${JSON.stringify(join(dist, 'snapshot.js'))}, ${JSON.stringify(dist)});
bundled.exports.prepare(${JSON.stringify(generated)});
require('v8').startupSnapshot.setDeserializeMainFunction(() => {
  treeRequire = require('module').createRequire(${JSON.stringify(join(dist, 'main.js'))});
  bundled.exports.start();
});
`,
  );
  const out = join(work, 'berth.blob');
  execFileSync(process.execPath, ['--snapshot-blob', out, '--build-snapshot', entry], { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(out, blob);
  process.stderr.write(`[snapshot] ${blob}\n`);
} catch (e) {
  process.stderr.write(`[snapshot] not built: ${e.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
