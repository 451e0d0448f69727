// Issue 12: what the confinement costs a container's start. `berth run --rm
// --network none busybox true` as a user types it (a fresh CLI process each),
// under the default seccomp profile (the shim builds and loads ~370 rules with
// libseccomp before execve) vs `--security-opt seccomp=unconfined` (no
// filter), and vs `--privileged` when this build's CLI has that flag (no
// filter, every capability and device). Interleaved in one run, the order
// rotated every round, on the suite's own stack (engine.js's startStack: own
// dirs, NATS, cgroup parent, bridge, chains; removed at the end).
// Env: BENCH_N (runs per case, default 20).
'use strict';
const crypto = require('node:crypto');
const os = require('node:os');
const path = require('node:path');
const { ROOT, percentile, writeResult } = require('../lib');
const { startStack, exec, timed } = require('./engine');

const BERTH = path.join(ROOT, 'apps', 'cli', 'bin', 'berth');
const p = (v, q) => percentile(v, q);

async function run() {
  const N = Number(process.env.BENCH_N || 20);
  const tag = crypto.randomBytes(3).toString('hex');
  const load0 = os.loadavg();
  const stack = await startStack(tag);
  try {
    // As users have it (see engine.js: NODE_EXTRA_CA_CERTS slows every Node start).
    const env = { ...stack.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const base = ['run', '--rm', '--network', 'none'];
    await exec(BERTH, [...base, 'busybox', 'true'], env); // warm: image, layer
    const help = await exec(BERTH, ['run', '--help'], env);
    const cases = {
      default: ['default profile', [...base, 'busybox', 'true']],
      unconfined: ['seccomp=unconfined', [...base, '--security-opt', 'seccomp=unconfined', 'busybox', 'true']],
      ...(help.includes('--privileged') ? { privileged: ['--privileged', [...base, '--privileged', 'busybox', 'true']] } : {}),
    };
    const keys = Object.keys(cases);
    const t = Object.fromEntries(keys.map((k) => [k, []]));
    for (let i = 0; i < N + 2; i++) {
      for (let j = 0; j < keys.length; j++) {
        const k = keys[(i + j) % keys.length];
        const dt = await timed(BERTH, cases[k][1], env);
        if (i >= 2) t[k].push(dt); // the first 2 rounds warm caches
      }
    }
    const rows = [];
    for (const k of keys.filter((x) => x !== 'default')) {
      rows.push(
        { metric: `\`berth run --rm --network none busybox true\`, default seccomp profile, p50 (n=${N})`, unit: 'ms', berth: p(t.default, 50), peerName: `same with ${cases[k][0]}`, peer: p(t[k], 50), ratio: p(t.default, 50) / p(t[k], 50) },
        { metric: 'same, p90', unit: 'ms', berth: p(t.default, 90), peerName: `same with ${cases[k][0]}`, peer: p(t[k], 90), ratio: p(t.default, 90) / p(t[k], 90) },
      );
    }
    const load1 = os.loadavg();
    return writeResult('seccomp', 'Confinement cost: a container start with and without the seccomp filter (issue 12)', rows, [
      'Each run is a fresh CLI process, spawn to exit (Node start, the CLI, the gRPC calls, create, start, exit, removal), --network none so the network does not dominate; the contestants are interleaved and their order rotated every round.',
      `${keys.includes('privileged') ? '' : '`--privileged` is not in this build yet: its row appears once the CLI has the flag. '}Machine load average (1 min) at the start and end: ${load0[0].toFixed(1)} and ${load1[0].toFixed(1)} on ${os.cpus().length} CPUs.`,
    ]);
  } finally {
    await exec(BERTH, ['ps', '-aq'], stack.env).then((ids) => ids.trim() && exec(BERTH, ['rm', '-f', ...ids.split(/\s+/).filter(Boolean)], stack.env)).catch(() => undefined);
    await stack.stop();
  }
}

module.exports = { run };
