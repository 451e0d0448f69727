// Issue 18: the services' event loop under a mixed load. In the all-in-one
// layout every service shares one event loop, so one heavy operation (a
// container's /etc/passwd read, a huge log line, a layer apply) would stall
// every other call and /metrics. While the load runs, the engine's /metrics
// is scraped every 500 ms for prom-client's event loop delay
// (nodejs_eventloop_lag_p99_seconds / _max_seconds: perf_hooks'
// monitorEventLoopDelay, reset at each scrape, so each sample covers the
// 500 ms before it). The load, all at once, on the suite's own stack:
//   - BENCH_LOOPS (default 8) clients each running containers back to back
//     through the engine's gRPC API (create, start, exit, remove);
//   - a container printing one 80 MB line, and `berth logs` of it;
//   - a container whose /etc/passwd is a FIFO, and `exec -u` into it;
//   - `berth import` of a 64 MiB layer (random data, so it does not compress).
// No peer: Docker and Podman are Go daemons with no single event loop.
// Target (issue 18): p99 under 20 ms.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, percentile, writeResult, sleep } = require('../lib');
const { startStack, exec } = require('./engine');

const BERTH = path.join(ROOT, 'apps', 'cli', 'bin', 'berth');

/** One sample of the engine's event loop delay (seconds) from its /metrics. */
async function sample(url) {
  const text = await (await fetch(url)).text();
  const get = (name) => Number((new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text) ?? [])[1]);
  return { p99: get('nodejs_eventloop_lag_p99_seconds'), max: get('nodejs_eventloop_lag_max_seconds') };
}

async function run() {
  const LOOPS = Number(process.env.BENCH_LOOPS || 8);
  const SECONDS = Number(process.env.BENCH_SECONDS || 60);
  const tag = crypto.randomBytes(3).toString('hex');
  const load0 = os.loadavg();
  const stack = await startStack(tag);
  const env = { ...stack.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-el-'));
  const { createClient } = require(path.join(ROOT, 'libs', 'kit', 'dist', 'index.js'));
  const engine = createClient('berth.engine.v1.Engine', [`unix:${path.join(env.BERTH_RUN, 'engine.sock')}`], { timeoutMs: 120_000 });
  const info = JSON.parse(fs.readFileSync(path.join(env.BERTH_RUN, 'engine.json'), 'utf8'));
  const samples = [];
  let stop = false;
  let lifecycles = 0;
  const failures = [];
  try {
    await exec(BERTH, ['run', '--rm', 'busybox', 'true'], env); // warm: image, layer, bridge
    const layer = path.join(work, 'layer.tar');
    fs.writeFileSync(path.join(work, 'blob'), crypto.randomBytes(64 * 1024 * 1024));
    await exec('tar', ['-C', work, '-cf', layer, 'blob'], env);
    await sample(info.metricsUrl); // reset the window

    const sampler = (async () => {
      while (!stop) {
        await sleep(500);
        samples.push(await sample(info.metricsUrl));
      }
    })();
    const loops = Array.from({ length: LOOPS }, async () => {
      while (!stop) {
        try {
          const { id } = await engine.RunContainer({ create: { config: { image: 'busybox:latest', cmd: { values: ['true'] } }, hostConfig: {}, pull: 'never' } });
          await engine.WaitContainer({ id, condition: 'not-running' });
          await engine.RemoveContainer({ id, force: true, removeVolumes: true });
          lifecycles++;
        } catch (e) {
          failures.push(e.message);
        }
      }
    });
    const heavy = [
      exec(BERTH, ['run', '-d', '--name', `el-line-${tag}`, 'busybox', 'sh', '-c', 'head -c 80000000 /dev/zero | tr "\\0" a; echo; echo after'], env)
        .then(() => exec(BERTH, ['wait', `el-line-${tag}`], env, { timeoutMs: 600_000 }))
        .then(() => exec(BERTH, ['logs', '--tail', '1', `el-line-${tag}`], env, { timeoutMs: 600_000 })),
      exec(BERTH, ['run', '-d', '--name', `el-fifo-${tag}`, 'busybox', 'sh', '-c', 'rm /etc/passwd; mkfifo /etc/passwd; sleep 600'], env)
        .then(async () => {
          for (let i = 0; i < 10 && !stop; i++) await exec(BERTH, ['exec', '-u', 'nobody', `el-fifo-${tag}`, 'true'], env).catch(() => undefined);
        }),
      exec(BERTH, ['import', layer, `el-import-${tag}:latest`], env, { timeoutMs: 600_000 }),
    ].map((p) => p.catch((e) => failures.push(e.message)));
    await Promise.race([Promise.all(heavy).then(() => sleep(5000)), sleep(SECONDS * 1000)]);
    stop = true;
    await Promise.all([...loops, sampler]);
  } finally {
    stop = true;
    engine.close();
    await exec(BERTH, ['rm', '-f', `el-line-${tag}`, `el-fifo-${tag}`], env).catch(() => undefined);
    await exec(BERTH, ['rmi', '-f', `el-import-${tag}:latest`], env).catch(() => undefined);
    await stack.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const p99s = samples.map((s) => s.p99 * 1000).filter(Number.isFinite);
  const maxes = samples.map((s) => s.max * 1000).filter(Number.isFinite);
  const load1 = os.loadavg();
  const rows = [
    { metric: `engine event loop delay p99 per 500 ms window under the mixed load, median of ${p99s.length} windows`, unit: 'ms', berth: percentile(p99s, 50), target: '< 20 ms' },
    { metric: '  the worst window\'s p99', unit: 'ms', berth: Math.max(...p99s), target: '< 20 ms' },
    { metric: '  the longest single delay', unit: 'ms', berth: Math.max(...maxes) },
    { metric: `container lifecycles completed meanwhile (${LOOPS} gRPC clients)`, unit: '', berth: lifecycles },
  ];
  return writeResult('eventloop', 'Event loop under a mixed load: containers, an 80 MB log line, a FIFO /etc/passwd, a 64 MiB layer (issue 18)', rows, [
    'All-in-one layout (one event loop for every service). Samples: the engine\'s /metrics every 500 ms (prom-client\'s monitorEventLoopDelay, reset at each scrape). The 80 MB line is split into 16 KiB records end to end; the FIFO /etc/passwd makes exec fail at once; the import applies a 64 MiB layer of random data.',
    failures.length ? `Failures during the load (${failures.length}): ${[...new Set(failures)].slice(0, 3).join(' | ')}` : 'No operation failed during the load.',
    `Machine load average (1 min) at the start and end: ${load0[0].toFixed(1)} and ${load1[0].toFixed(1)} on ${os.cpus().length} CPUs.`,
  ]);
}

module.exports = { run };
