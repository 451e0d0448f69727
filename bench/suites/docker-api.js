// Issue 14: the Docker Engine API gateway against berth's own CLI and Podman,
// interleaved in one run on the same busybox image:
//   - `docker run --rm busybox true` (the docker CLI 28, through
//     BERTH_RUN/docker.sock) vs `berth run --rm busybox true` vs
//     `podman run --rm` (Debian's, runc, its own bridge network);
//   - `docker ps -a` with BENCH_PS containers (default 100) vs `berth ps -a`
//     vs `podman ps -a` with as many.
// The docker CLI is a Go binary and the gateway a running service, so
// NODE_EXTRA_CA_CERTS (set on some machines, ~55 ms per Node start) does not
// touch the docker rows; it does touch `berth`, a Node process: where this
// machine sets it, the berth rows run with it too, beside the rows as users
// have it (unset).
// The stack and Podman are the engine suite's (own dirs, names, NATS,
// network); both are removed at the end. Env: BENCH_N (runs per case,
// default 20), BENCH_PS (containers for the ps rows, default 100).
'use strict';
const os = require('node:os');
const path = require('node:path');
const { percentile, writeResult } = require('../lib');
const { startStack, startPodman, exec, timed } = require('./engine');

const BERTH = path.join(__dirname, '..', '..', 'apps', 'cli', 'bin', 'berth');
const DOCKER = '/usr/local/bin/docker';
const PODMAN_RUN = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const N = Number(process.env.BENCH_N || 20);
const PS = Number(process.env.BENCH_PS || 100);
const p = (v, q) => percentile(v, q);

/** Interleaved runs of each case, order rotated every round; the first 2 rounds warm caches. */
async function interleaved(cases, n) {
  const keys = Object.keys(cases);
  const t = Object.fromEntries(keys.map((k) => [k, []]));
  for (let i = 0; i < n + 2; i++) {
    for (let j = 0; j < keys.length; j++) {
      const k = keys[(i + j) % keys.length];
      const [file, args, env] = cases[k];
      const dt = await timed(file, args, env);
      if (i >= 2) t[k].push(dt);
    }
  }
  return t;
}

async function run() {
  const load0 = os.loadavg();
  const tag = Math.random().toString(16).slice(2, 8);
  const stack = await startStack(tag);
  const env = { ...stack.env };
  const ca = env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_EXTRA_CA_CERTS; // as users have it (see the engine suite)
  const caEnv = ca ? { ...env, NODE_EXTRA_CA_CERTS: ca } : undefined;
  const denv = { ...env, DOCKER_HOST: `unix://${path.join(env.BERTH_RUN, 'docker.sock')}`, DOCKER_CONFIG: path.join(stack.base, 'docker-config') };
  let pm;
  const rows = [];
  const notes = [];
  try {
    const tar = path.join(stack.base, 'busybox.tar');
    await exec(BERTH, ['image', 'save', 'busybox:latest', '-o', tar], env);
    pm = await startPodman(tag, env, tar);
    const run = await interleaved({
      docker: [DOCKER, ['run', '--rm', 'busybox', 'true'], denv],
      berth: [BERTH, ['run', '--rm', 'busybox', 'true'], env],
      podman: ['podman', [...pm.global, 'run', '--rm', ...PODMAN_RUN, '--network', pm.network, pm.image, 'true'], env],
      ...(caEnv ? { berthCa: [BERTH, ['run', '--rm', 'busybox', 'true'], caEnv] } : {}),
    }, N);
    const row = (metric, t, a, b, peerName) => [
      { metric: `${metric}, p50 (n=${N})`, unit: 'ms', berth: p(t[a], 50), peerName, peer: p(t[b], 50), ratio: p(t[a], 50) / p(t[b], 50) },
      { metric: `${metric}, p90`, unit: 'ms', berth: p(t[a], 90), peerName, peer: p(t[b], 90), ratio: p(t[a], 90) / p(t[b], 90) },
    ];
    rows.push(
      ...row('`docker run --rm busybox true` through berth\'s docker.sock, bridge', run, 'docker', 'podman', '`podman run --rm` (runc, own bridge network)'),
      ...row('same, against `berth run --rm busybox true`', run, 'docker', 'berth', '`berth run --rm busybox true`'),
      ...(caEnv ? row('same, against `berth run --rm` with NODE_EXTRA_CA_CERTS set', run, 'docker', 'berthCa', '`berth run --rm busybox true` (CA)') : []),
    );

    // ps with PS containers (created, not started: what is timed is listing them).
    for (let i = 0; i < PS; i += 10) {
      const batch = Array.from({ length: Math.min(10, PS - i) }, () => i);
      await Promise.all(batch.map(() => exec(BERTH, ['create', 'busybox', 'true'], env)));
      await Promise.all(batch.map(() => exec('podman', [...pm.global, 'create', ...PODMAN_RUN, '--network', pm.network, pm.image, 'true'], env)));
    }
    const ps = await interleaved({
      docker: [DOCKER, ['ps', '-a'], denv],
      berth: [BERTH, ['ps', '-a'], env],
      podman: ['podman', [...pm.global, 'ps', '-a'], env],
      ...(caEnv ? { berthCa: [BERTH, ['ps', '-a'], caEnv] } : {}),
    }, N);
    rows.push(
      ...row(`\`docker ps -a\` with ${PS} containers through docker.sock`, ps, 'docker', 'podman', '`podman ps -a`'),
      ...row('same, against `berth ps -a`', ps, 'docker', 'berth', '`berth ps -a`'),
      ...(caEnv ? row('same, against `berth ps -a` with NODE_EXTRA_CA_CERTS set', ps, 'docker', 'berthCa', '`berth ps -a` (CA)') : []),
    );
    // What a listing costs the stack: the docker CLI's ps answered by the gateway from one engine ListContainers.
    const listed = (await exec(DOCKER, ['ps', '-aq'], denv)).split(/\s+/).filter(Boolean).length;
    if (listed < PS) throw new Error(`docker ps -a listed ${listed} containers, ${PS} were created`);
    notes.push('Every row times a fresh CLI process from spawn to exit, runs interleaved and their order rotated every round: the docker CLI 28 (a Go binary) talks HTTP to the gateway, which calls the engine over gRPC; `berth` is a Node process talking gRPC to the engine directly; Podman uses runc, cgroupfs and vfs storage of its own with the same busybox image.');
  } finally {
    if (pm) await pm.stop().catch((e) => process.stderr.write(`docker-api bench: podman cleanup: ${e.message}\n`));
    const ids = (await exec(BERTH, ['ps', '-aq', '--no-trunc'], env).catch(() => '')).split(/\s+/).filter(Boolean);
    for (let i = 0; i < ids.length; i += 50) await exec(BERTH, ['rm', '-f', ...ids.slice(i, i + 50)], env).catch(() => undefined);
    await stack.stop();
  }
  const load1 = os.loadavg();
  notes.push(`Machine load average (1 min) at the start and end of this run: ${load0[0].toFixed(1)} and ${load1[0].toFixed(1)} on ${os.cpus().length} CPUs.`);
  return writeResult('docker-api', 'Docker API gateway: docker run and docker ps through berth vs berth\'s CLI and Podman (issue 14)', rows, notes);
}

module.exports = { run };
