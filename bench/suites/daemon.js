// Issues 2 and 18: time from `berth daemon up` to every service SERVING, and idle
// resident memory of the whole stack, in both layouts (all-in-one berthd and
// one process per service). Peer figure (dockerd + containerd idle RSS,
// 116 MiB) is the issue's own measurement on this machine: Docker's engine
// is not installable here to re-measure.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, rssBytes, footprintBytes, descendants, stats, writeResult, sleep, mib } = require('../lib');
const { SERVICE_NAMES } = require(path.join(ROOT, 'libs', 'kit', 'dist'));

const berth = path.join(ROOT, 'apps', 'cli', 'bin', 'berth');

async function purge(env) {
  const { NetworkManager, networksOptions } = require(path.join(ROOT, 'libs', 'networks', 'dist'));
  const { removeCgroupParent } = require(path.join(ROOT, 'libs', 'cgroups', 'dist'));
  const m = new NetworkManager(networksOptions({ root: env.BERTH_ROOT, run: env.BERTH_RUN }, env));
  await m.start();
  await m.purge();
  await m.close();
  removeCgroupParent(env.BERTH_CGROUP_PARENT);
}

function readRecord(run) {
  return JSON.parse(fs.readFileSync(path.join(run, 'daemon.json'), 'utf8'));
}

async function measure(split, rounds) {
  const times = [];
  let mem = { rss: 0, footprint: 0, rssWithNats: 0, footprintWhole: 0, perService: {} };
  for (let i = 0; i < rounds; i++) {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-daemon-'));
    const env = { ...process.env, BERTH_ROOT: path.join(base, 'root'), BERTH_RUN: path.join(base, 'run'), BERTH_LOG_LEVEL: 'warn' };
    // Metrics on free ports so the bench never collides with a running stack.
    for (const s of SERVICE_NAMES) env[`BERTH_${s.toUpperCase().replace(/-/g, '_')}_METRICS`] = '0';
    // The bench's own bridge, subnet, chains and cgroup parent, removed after.
    const tag = `${process.pid.toString(16)}${i}`;
    Object.assign(env, {
      BERTH_CGROUP_PARENT: `berth-bench-${tag}`, BERTH_DEFAULT_BRIDGE: `bt-b${tag}`.slice(0, 15),
      BERTH_DEFAULT_SUBNET: '10.219.240.0/24', BERTH_BRIDGE_PREFIX: 'btb-', BERTH_CHAIN_PREFIX: `BERTH-B${tag}`, BERTH_DNS_UPSTREAMS: '127.0.0.1:9',
    });
    try {
      const t0 = process.hrtime.bigint();
      execFileSync(berth, ['daemon', 'up', ...(split ? ['--split'] : [])], { env, stdio: 'ignore' });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (i === rounds - 1) {
        // Idle: V8's memory reducer gives the start-up heap back some 10 s
        // after the last burst of allocation (the first start imports busybox);
        // at 5 s the all-in-one stack still held ~40 MiB of it.
        await sleep(20000);
        const rec = readRecord(env.BERTH_RUN);
        const pids = rec.processes.flatMap((p) => [p.pid, ...descendants(p.pid)]);
        const sum = (f, list) => list.reduce((a, p) => a + f(p), 0);
        // The whole stack: services, the supervisor that restarts them, nats-server.
        const whole = [...pids, ...(rec.supervisorPid ? [rec.supervisorPid] : []), ...(rec.natsPid ? [rec.natsPid] : [])];
        mem = {
          rss: sum(rssBytes, pids),
          footprint: footprintBytes(pids),
          rssWithNats: sum(rssBytes, pids) + (rec.natsPid ? rssBytes(rec.natsPid) : 0),
          footprintWhole: footprintBytes(whole),
          perService: Object.fromEntries(rec.processes.map((p) => [p.name, rssBytes(p.pid)])),
        };
      }
    } finally {
      try { execFileSync(berth, ['daemon', 'down'], { env, stdio: 'ignore' }); } catch { /* */ }
      await purge(env);
      fs.rmSync(base, { recursive: true, force: true });
    }
  }
  return { times: stats(times), ...mem };
}

async function run() {
  const rounds = Number(process.env.BENCH_ROUNDS || 5);
  const load0 = os.loadavg();
  const one = await measure(false, rounds);
  const split = await measure(true, rounds);
  const load1 = os.loadavg();
  const dockerIdleMiB = 116;
  writeResult('daemon', 'Stack start-up and idle memory (issue 2)', [
    { metric: '`berth daemon up` to all SERVING, all-in-one, p50', unit: 'ms', berth: one.times.p50 },
    { metric: '`berth daemon up` to all SERVING, split, p50', unit: 'ms', berth: split.times.p50 },
    { metric: 'idle RSS of the stack, all-in-one (services only)', unit: 'MiB', berth: mib(one.rss), peerName: 'dockerd + containerd (issue figure)', peer: dockerIdleMiB, ratio: mib(one.rss) / dockerIdleMiB, target: '≤ 64 MiB' },
    { metric: 'idle RSS of the stack, all-in-one, with nats-server', unit: 'MiB', berth: mib(one.rssWithNats) },
    { metric: 'idle RSS of the stack, split (services only)', unit: 'MiB', berth: mib(split.rss), peerName: 'dockerd + containerd (issue figure)', peer: dockerIdleMiB, ratio: mib(split.rss) / dockerIdleMiB, target: '≤ 300 MiB' },
    { metric: 'idle footprint of the stack, split (services only: private memory + shared file pages once)', unit: 'MiB', berth: mib(split.footprint), target: '≤ 300 MiB' },
    { metric: 'idle footprint of the whole split stack (services, supervisor, nats-server)', unit: 'MiB', berth: mib(split.footprintWhole) },
    { metric: 'idle footprint of the whole all-in-one stack (berthd, supervisor, nats-server)', unit: 'MiB', berth: mib(one.footprintWhole) },
    ...Object.entries(split.perService).map(([name, bytes]) => ({ metric: `idle RSS, split, ${name}`, unit: 'MiB', berth: mib(bytes) })),
  ], [
    `${rounds} start-ups per layout; times include spawning Node, loading protos, binding sockets and each service's own start (image store, network reconcile...).`,
    'Idle RSS: the last start-up of each layout, on a fresh state root (the images service imports busybox), sampled 20 s after every service is SERVING, once V8 has returned the start-up heap; at 5 s the all-in-one stack still holds ~40 MiB more.',
    `Machine load average (1 min) at the start and end of this run: ${load0[0].toFixed(1)} and ${load1[0].toFixed(1)} on ${os.cpus().length} CPUs (start-up times suffer from load; memory barely does).`,
    'The Docker figure is the one the issue measured on this machine; no Docker engine can be installed here to re-measure it in the same run.',
    'RSS counts the pages a process shares with others (the node binary and libraries, ~47 MiB of each service process) once per process, so a sum of RSS counts them eight times in the split layout. The footprint counts each process\'s private memory (RssAnon + RssShmem) and the shared file pages once (the largest RssFile): what the stack costs the machine, whatever else runs. What each service holds: docs/design/memory.md.',
  ]);
}

module.exports = { run };
