#!/usr/bin/env node
// Runs benchmark suites and renders docs/benchmarks.md.
//   node bench/run.js            every suite in bench/suites/
//   node bench/run.js daemon     only the named suites
// A suite is bench/suites/<name>.js exporting async run() that calls
// writeResult() from bench/lib.js. Suites need the build (npm run build) and
// root, and measure peers (runc, podman, skopeo, tar...) in the same run.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

async function main() {
  const dir = path.join(__dirname, 'suites');
  const all = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
  const wanted = process.argv.slice(2);
  for (const w of wanted) if (!all.includes(w)) throw new Error(`unknown suite "${w}"; suites: ${all.join(', ')}`);
  for (const name of wanted.length ? wanted : all) {
    process.stderr.write(`== bench ${name}\n`);
    const t0 = Date.now();
    await require(path.join(dir, `${name}.js`)).run();
    process.stderr.write(`== bench ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  require('./import.js');
  require('./render.js');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
