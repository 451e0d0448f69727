// Issue 16: `berth build` of a 5-step Dockerfile (FROM, ENV, COPY, RUN, CMD)
// cold (--no-cache: every step runs, the RUN in a container, each step
// committed) and cached (a rebuild answered from the build cache), against
// `podman build` (buildah, runc, its own vfs storage; the same busybox image
// loaded from `berth image save`) the same two ways, side by side. Each build
// is a fresh CLI process timed from spawn to exit; berth and podman builds
// alternate every round. Runs on the suite's own stack and Podman (engine.js's
// startStack/startPodman: own dirs, NATS, cgroup parent, bridge, chains).
// Env: BENCH_N (builds per case, default 8).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, percentile, writeResult } = require('../lib');
const { startStack, startPodman, exec, timed } = require('./engine');

const BERTH = path.join(ROOT, 'apps', 'cli', 'bin', 'berth');
const p = (v, q) => percentile(v, q);

/** The benchmark's Dockerfile on `image`, and its context. */
function writeContext(dir, image) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), [
    `FROM ${image}`,
    'ENV GREETING=hello',
    'COPY payload.txt /data/payload.txt',
    'RUN cat /data/payload.txt > /data/out.txt && echo "$GREETING" >> /data/out.txt',
    'CMD ["cat", "/data/out.txt"]',
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'payload.txt'), `${'x'.repeat(64 * 1024)}\n`);
}

async function run() {
  const N = Number(process.env.BENCH_N || 8);
  const tag = crypto.randomBytes(3).toString('hex');
  const load0 = os.loadavg();
  const stack = await startStack(tag);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-build-'));
  let pm;
  try {
    const env = { ...stack.env };
    delete env.NODE_EXTRA_CA_CERTS; // as users have it (engine.js)
    const tar = path.join(work, 'busybox.tar');
    await exec(BERTH, ['image', 'save', 'busybox:latest', '-o', tar], env);
    pm = await startPodman(tag, env, tar);
    const berthCtx = path.join(work, 'berth');
    const podmanCtx = path.join(work, 'podman');
    writeContext(berthCtx, 'busybox');
    writeContext(podmanCtx, pm.image);
    const cases = {
      berthCold: ['berth', [BERTH, ['build', '-q', '--no-cache', '-t', 'bench-build', berthCtx]]],
      berthCached: ['berth', [BERTH, ['build', '-q', '-t', 'bench-build', berthCtx]]],
      podmanCold: ['podman', ['podman', [...pm.global, 'build', '-q', '--no-cache', '--runtime', 'runc', '-t', 'bench-build', podmanCtx]]],
      podmanCached: ['podman', ['podman', [...pm.global, 'build', '-q', '--runtime', 'runc', '-t', 'bench-build', podmanCtx]]],
    };
    // Warm: one build each fills the caches the cached rows hit.
    for (const k of ['berthCached', 'podmanCached']) await exec(cases[k][1][0], cases[k][1][1], env, { timeoutMs: 300_000 });
    const check = (await exec(BERTH, ['run', '--rm', 'bench-build'], env)).trim().split('\n').pop();
    if (check !== 'hello') throw new Error(`the built image printed ...${JSON.stringify(check.slice(-40))} last, expected "hello"`);
    const keys = Object.keys(cases);
    const t = Object.fromEntries(keys.map((k) => [k, []]));
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < keys.length; j++) {
        const k = keys[(i + j) % keys.length];
        const [file, args] = cases[k][1];
        t[k].push(await timed(file, args, env));
      }
      // Cold builds leave dangling images behind: drop them so the stores do not grow through the run.
      await exec(BERTH, ['image', 'prune', '-f'], env).catch(() => undefined);
    }
    const row = (metric, b, pk) => [
      { metric: `${metric}, p50 (n=${N})`, unit: 'ms', berth: p(t[b], 50), peerName: '`podman build` (buildah, runc, vfs)', peer: p(t[pk], 50), ratio: p(t[b], 50) / p(t[pk], 50) },
      { metric: 'same, p90', unit: 'ms', berth: p(t[b], 90), peerName: '`podman build` (buildah, runc, vfs)', peer: p(t[pk], 90), ratio: p(t[b], 90) / p(t[pk], 90) },
    ];
    const load1 = os.loadavg();
    return writeResult('build', 'Image build: a 5-step Dockerfile cold and cached, vs podman build (issue 16)', [
      ...row('`berth build --no-cache` of FROM/ENV/COPY/RUN/CMD (cold: every step runs and commits)', 'berthCold', 'podmanCold'),
      ...row('`berth build` of the same, every step from the cache', 'berthCached', 'podmanCached'),
    ], [
      'Each build is a fresh CLI process from spawn to exit (context upload, the build, naming the result); berth runs the RUN step as one of its containers on its bridge network and commits every step through Images.Commit; Podman builds with buildah (runc, cgroupfs, vfs storage of its own, --layers as default). The contestants alternate, their order rotated every round; dangling images of cold builds are pruned after each round.',
      `Machine load average (1 min) at the start and end: ${load0[0].toFixed(1)} and ${load1[0].toFixed(1)} on ${os.cpus().length} CPUs.`,
    ]);
  } finally {
    await exec(BERTH, ['ps', '-aq'], stack.env).then((ids) => ids.trim() && exec(BERTH, ['rm', '-f', ...ids.split(/\s+/).filter(Boolean)], stack.env)).catch(() => undefined);
    await pm?.stop();
    await stack.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

module.exports = { run };
