// Shared helpers for berth's benchmarks: timing, percentiles, RSS, the
// machine description, and the result format every suite writes:
//   bench/results/<suite>.json = { suite, title, date, machine, rows: [...], notes: [...] }
// where a row is { metric, unit, berth, peer?, peerName?, ratio?, target?, better: 'lower'|'higher' }.
// bench/render.js turns all results into docs/benchmarks.md.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

function stats(values) {
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), min: Math.min(...values), max: Math.max(...values), mean: values.reduce((a, b) => a + b, 0) / values.length };
}

/** Resident set size of a pid in bytes (VmRSS), or 0 when gone. */
/**
 * What a set of processes costs the machine, independent of other processes:
 * each one's private memory (RssAnon + RssShmem, from /proc/<pid>/status) plus
 * the file-backed pages (the node binary, shared libraries) counted once, as
 * the largest RssFile among them: the processes of a stack map the same files.
 * (PSS would divide shared pages also among unrelated processes running the
 * same binary, and so shrink as the machine runs more of them.)
 */
function footprintBytes(pids) {
  let privateKiB = 0;
  let fileKiB = 0;
  for (const pid of pids) {
    let status;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    privateKiB += kib('RssAnon') + kib('RssShmem');
    fileKiB = Math.max(fileKiB, kib('RssFile'));
  }
  return (privateKiB + fileKiB) * 1024;
}

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** All descendants of a pid (children, grandchildren...). */
function descendants(pid) {
  const out = [];
  const walk = (p) => {
    let kids = [];
    try {
      kids = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch { /* gone */ }
    for (const k of kids) { out.push(k); walk(k); }
  };
  walk(pid);
  return out;
}

function machine() {
  let kernel = '';
  try { kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(); } catch { /* */ }
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', memGiB: Math.round(os.totalmem() / 2 ** 30), kernel, node: process.version };
}

function writeResult(suite, title, rows, notes = []) {
  fs.mkdirSync(RESULTS, { recursive: true });
  const result = { suite, title, date: new Date().toISOString(), machine: machine(), rows, notes };
  fs.writeFileSync(path.join(RESULTS, `${suite}.json`), JSON.stringify(result, null, 2) + '\n');
  return result;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (b) => b / 2 ** 20;

/**
 * The runc peer of the run-path benchmarks: writes a bundle in `bundle` that
 * runs /bin/true on `rootfs` (runc spec; no terminal, PATH=/bin, hostname
 * bench; `linux` merged into its linux section: namespaces, cgroupsPath),
 * then times `runc run` of it n times after `warm` untimed runs, in ms.
 */
function timeRuncRuns(bundle, rootfs, linux, n, warm) {
  execFileSync('runc', ['spec', '--bundle', bundle]);
  const cfgPath = path.join(bundle, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = ['/bin/true'];
  cfg.process.env = ['PATH=/bin'];
  cfg.root = { path: rootfs, readonly: false };
  cfg.hostname = 'bench';
  Object.assign(cfg.linux, linux);
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  const times = [];
  for (let i = 0; i < n + warm; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('runc', ['--root', path.join(bundle, 'state'), 'run', '--bundle', bundle, `bench-${i}`], { stdio: 'ignore' });
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`runc run exited ${r.status}`);
    if (i >= warm) times.push(dt);
  }
  return times;
}

module.exports = { ROOT, RESULTS, percentile, stats, rssBytes, footprintBytes, descendants, machine, writeResult, sleep, mib, timeRuncRuns };
