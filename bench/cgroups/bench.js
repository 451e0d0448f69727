#!/usr/bin/env node
// Cgroups service cost: one Prometheus scrape with N live container cgroups
// (each holding a sleeping process), and the per-container lifecycle
// (create with limits + addProcess, then killAll + delete). Prints JSON to
// stdout.
//   node bench/cgroups/bench.js [--n 200] [--lifecycle 50] [--scrapes 10]
// Needs root and the build of libs/cgroups (npx tsc -b libs/cgroups). Every
// cgroup is created under a parent named berth-bench-<random> and removed at
// the end, as are the sleeping processes (killed by pid).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { Registry } = require('prom-client');
const { stats } = require('../lib.js');
const { CgroupsManager, CgroupMetricsCollector, parseBytes, cpusToQuota } = require('../../libs/cgroups/dist/index.js');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--n', 200);
const LIFECYCLE = arg('--lifecycle', 50);
const SCRAPES = arg('--scrapes', 10);
const parent = `berth-bench-${crypto.randomBytes(3).toString('hex')}`;
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-cgroups-'));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const round = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
const resources = { memory: { limit: parseBytes('64m') }, cpu: cpusToQuota(0.5), pids: { limit: 100 } };
const sleepers = [];

function sleeper() {
  const c = spawn('sleep', ['100000'], { stdio: 'ignore' });
  sleepers.push(c);
  return new Promise((resolve, reject) => {
    c.once('spawn', () => resolve(c));
    c.once('error', reject);
  });
}

async function main() {
  const m = new CgroupsManager({ stateDir, parent });
  const out = { parent, driver: m.driver.version, n: N, cpus: os.cpus().length, kernel: os.release() };
  try {
    // 1. Lifecycle per container (process spawn not timed).
    const createAdd = [];
    const killDelete = [];
    for (let i = 0; i < LIFECYCLE; i++) {
      const c = await sleeper();
      let t0 = process.hrtime.bigint();
      await m.create(`life-${i}`, { resources, name: `life-${i}`, image: 'bench' });
      await m.addProcess(`life-${i}`, c.pid);
      createAdd.push(ms(t0));
      t0 = process.hrtime.bigint();
      await m.killAll(`life-${i}`, 'SIGKILL');
      await m.delete(`life-${i}`);
      killDelete.push(ms(t0));
    }
    out.lifecycleMs = {
      createWithLimitsAndAddProcess: round(stats(createAdd)),
      killAllAndDelete: round(stats(killDelete)),
      total: round(stats(createAdd.map((v, i) => v + killDelete[i]))),
    };

    // 2. N live containers, then scrapes.
    const setup = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const c = await sleeper();
      await m.create(`c-${i}`, { resources, name: `c-${i}`, image: 'bench', labels: { 'io.kubernetes.pod.name': `pod-${i}`, app: 'bench' } });
      await m.addProcess(`c-${i}`, c.pid);
    }
    out.setupSeconds = Math.round(ms(setup)) / 1000;
    const registry = new Registry();
    new CgroupMetricsCollector(m).register(registry);
    const scrapes = [];
    let text = '';
    for (let i = 0; i < SCRAPES; i++) {
      const t0 = process.hrtime.bigint();
      text = await registry.metrics();
      scrapes.push(ms(t0));
    }
    out.scrapeMs = round(stats(scrapes));
    out.scrapeBytes = text.length;
    out.scrapeSamples = text.split('\n').filter((l) => l && !l.startsWith('#')).length;

    // 3. Teardown of N.
    const td = [];
    for (let i = 0; i < N; i++) {
      const t0 = process.hrtime.bigint();
      await m.delete(`c-${i}`, { force: true });
      td.push(ms(t0));
    }
    out.forceDeleteMs = round(stats(td));
  } finally {
    m.close();
    for (const c of sleepers) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await m.reconcile([]).catch(() => undefined);
    for (const mount of m.driver.directories(parent)) {
      try {
        fs.rmdirSync(mount);
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
