#!/usr/bin/env node
// The engine's Run path, measured from the outside and step by step
// (issue 8, Benchmarks): a warm stack of the six services in this process
// (runServices, as libs/engine/src/service.e2e.test.ts does), then
//   1. N x RunContainer(busybox true) + WaitContainer(not-running), for
//      --network none and bridge: p50/p90 of Run-to-exit, and of the
//      RemoveContainer that follows;
//   2. per Run step: berth_engine_run_step_seconds{step} from the engine's
//      registry (mean exact from sum/count; p50/p90 interpolated in buckets);
//   3. C containers (default 100, `sleep 60`, --network none) started
//      concurrently, then removed concurrently (force): containers per second;
//   4. `runc run` of an equivalent bundle (same busybox rootfs) as the peer.
//
//   node bench/engine-path/run.js            (root; needs the build: npx tsc -b libs/engine ...)
//   BENCH_N=50 BENCH_C=100 BENCH_MODES=none,bridge BENCH_JSON=out.json node bench/engine-path/run.js
//
// Everything it makes is its own: BERTH_ROOT/RUN under temp dirs, cgroup
// parent berth-test-<rand>, bridge bt-r<rand>, chains BERTH-R<RAND>, a private
// nats-server; all removed at the end, also on failure.
'use strict';
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// BENCH_ROOT: another checkout's build (an A/B against an older commit in a git worktree).
const ROOT = process.env.BENCH_ROOT || path.resolve(__dirname, '..', '..');
const dist = (lib, file = 'index.js') => require(path.join(ROOT, 'libs', lib, 'dist', file));
const { timeRuncRuns } = require('../lib');

const N = Number(process.env.BENCH_N || 40);
const C = Number(process.env.BENCH_C || 100);
const WARM = 10;
const MODES = (process.env.BENCH_MODES || 'none,bridge').split(',').filter(Boolean);

function pct(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const fmt = (ms) => (Number.isFinite(ms) ? ms.toFixed(1).padStart(7) : '      -');
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Histogram snapshot: step -> { count, sum, buckets: [[le, cumulative]] }. */
async function stepSnapshot(registry) {
  const m = registry.getSingleMetric('berth_engine_run_step_seconds');
  const out = {};
  if (!m) return out;
  for (const v of (await m.get()).values) {
    const step = v.labels.step;
    const e = (out[step] ??= { count: 0, sum: 0, buckets: [] });
    if (v.metricName.endsWith('_count')) e.count = v.value;
    else if (v.metricName.endsWith('_sum')) e.sum = v.value;
    else if (v.metricName.endsWith('_bucket')) e.buckets.push([v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value]);
  }
  return out;
}

/** Quantile (ms) of the observations between two snapshots, linear within a bucket. */
function stepQuantile(before, after, q) {
  const b = new Map((before?.buckets ?? []).map(([le, c]) => [le, c]));
  const buckets = after.buckets.map(([le, c]) => [le, c - (b.get(le) ?? 0)]).sort((x, y) => x[0] - y[0]);
  const total = after.count - (before?.count ?? 0);
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevC = 0;
  for (const [le, c] of buckets) {
    if (c >= rank) {
      if (le === Infinity) return prevLe * 1000;
      return (prevLe + ((le - prevLe) * (rank - prevC)) / Math.max(1e-9, c - prevC)) * 1000;
    }
    prevLe = le;
    prevC = c;
  }
  return NaN;
}

function printSteps(title, before, after) {
  console.log(`  ${title}: per step (ms)       mean     p50     p90   count`);
  for (const [step, a] of Object.entries(after)) {
    const b = before[step];
    const count = a.count - (b?.count ?? 0);
    if (count <= 0) continue;
    const mean = ((a.sum - (b?.sum ?? 0)) / count) * 1000;
    console.log(`    ${step.padEnd(26)}${fmt(mean)} ${fmt(stepQuantile(b, a, 0.5))} ${fmt(stepQuantile(b, a, 0.9))}  ${String(count).padStart(6)}`);
  }
}

/** Server-side time per gRPC method of every service: method -> { count, sum }. */
async function rpcSnapshot(hosts) {
  const out = {};
  for (const h of hosts) {
    const m = h.registry.getSingleMetric('grpc_server_handling_seconds');
    if (!m) continue;
    for (const v of (await m.get()).values) {
      const k = `${h.info.name}.${v.labels.grpc_method}`;
      const e = (out[k] ??= { count: 0, sum: 0 });
      if (v.metricName.endsWith('_count')) e.count = v.value;
      else if (v.metricName.endsWith('_sum')) e.sum = v.value;
    }
  }
  return out;
}

function printRpcs(before, after) {
  if (!process.env.BENCH_RPCS) return;
  console.log('  server-side per rpc (ms)          mean   count');
  for (const [k, a] of Object.entries(after)) {
    const count = a.count - (before[k]?.count ?? 0);
    if (count <= 0) continue;
    console.log(`    ${k.padEnd(30)}${fmt(((a.sum - (before[k]?.sum ?? 0)) / count) * 1000)}  ${String(count).padStart(6)}`);
  }
}

function runcPeer(rootfs, n) {
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ep-runc-'));
  const cg = `berth-test-runc-${randomBytes(3).toString('hex')}`;
  try {
    const namespaces = ['pid', 'mount', 'uts', 'ipc', 'network'].map((type) => ({ type }));
    return timeRuncRuns(bundle, rootfs, { namespaces, cgroupsPath: `/${cg}/c` }, n, WARM);
  } finally {
    for (const c of fs.readdirSync('/sys/fs/cgroup')) {
      try { fs.rmdirSync(`/sys/fs/cgroup/${c}/${cg}/c`); } catch { /* absent */ }
      try { fs.rmdirSync(`/sys/fs/cgroup/${c}/${cg}`); } catch { /* absent */ }
    }
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root: the stack makes cgroups, mounts and bridges');
  const { runServices } = dist('daemon');
  const { createClient, tempPaths, socketPath } = dist('kit');
  const { startNatsServer } = dist('events');
  const { cgroupsModule, removeCgroupParent } = dist('cgroups');
  const { imagesModule } = dist('images');
  const { layersModule } = dist('layers');
  const { namespacesModule } = dist('namespaces');
  const { networksModule, NetworkManager, networksOptions } = dist('networks');
  const { engineModule } = dist('engine');
  const { makeBusyboxRootfs } = dist('runtime', 'testing/busybox-rootfs.js');

  const tag = randomBytes(3).toString('hex');
  const env = {
    BERTH_CGROUP_PARENT: `berth-test-${tag}`,
    BERTH_DEFAULT_BRIDGE: `bt-r${tag}`,
    BERTH_DEFAULT_SUBNET: `10.219.${90 + (parseInt(tag, 16) % 10)}.0/24`,
    BERTH_BRIDGE_PREFIX: `btr${tag.slice(0, 4)}-`,
    BERTH_CHAIN_PREFIX: `BERTH-R${tag.toUpperCase()}`,
    BERTH_DNS_UPSTREAMS: '127.0.0.1:9',
  };
  Object.assign(process.env, env);
  for (const s of ['ENGINE', 'NAMESPACES', 'CGROUPS', 'LAYERS', 'NETWORKS', 'IMAGES', 'DOCKER_API']) process.env[`BERTH_${s}_METRICS`] = '0';

  const nats = await startNatsServer();
  process.env.NATS_URL = nats.url;
  const root = tempPaths();
  const run = fs.mkdtempSync(path.join('/tmp', 'bep-'));
  const paths = { root: root.root, run, cleanup: () => { root.cleanup(); fs.rmSync(run, { recursive: true, force: true }); } };
  let stack;
  let engine;
  const result = { date: new Date().toISOString(), n: N, concurrency: C, modes: {}, concurrent: undefined, runc: undefined };
  try {
    const t0 = now();
    stack = await runServices([layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule, engineModule], { paths, natsUrl: nats.url, metrics: () => false });
    console.log(`stack up in ${(now() - t0).toFixed(0)} ms (tag ${tag}, subnet ${env.BERTH_DEFAULT_SUBNET}); load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const registry = stack.hosts.find((h) => h.info.name === 'engine' || h.info.service === 'berth.engine.v1.Engine')?.registry;
    engine = createClient('berth.engine.v1.Engine', [`unix:${socketPath('engine', paths)}`], { timeoutMs: 120_000 });
    const images = createClient('berth.images.v1.Images', [`unix:${socketPath('images', paths)}`], { timeoutMs: 10_000 });
    for (let deadline = now() + 30_000; ; await new Promise((r) => setTimeout(r, 100))) {
      try { await images.Get({ reference: 'busybox:latest' }); break; } catch (e) { if (now() > deadline) throw e; }
    }
    images.close();

    const runOne = async (mode, cmd = ['true']) => {
      const t0 = now();
      const r = await engine.RunContainer({ create: { config: { image: 'busybox:latest', cmd: { values: cmd } }, hostConfig: { networkMode: mode }, pull: 'never' } });
      const tRun = now();
      const w = await engine.WaitContainer({ id: r.id, condition: 'not-running' });
      const tExit = now();
      if (w.exitCode !== 0) throw new Error(`busybox ${cmd.join(' ')} exited ${w.exitCode}`);
      await engine.RemoveContainer({ id: r.id, force: true, removeVolumes: true });
      return { run: tRun - t0, toExit: tExit - t0, remove: now() - tExit };
    };

    // `run --rm` as the CLI waits for it: Run (auto_remove) + Wait(removed).
    if (process.env.BENCH_RM !== '0') {
      const rmOne = async () => {
        const t0 = now();
        const r = await engine.RunContainer({ create: { config: { image: 'busybox:latest', cmd: { values: ['true'] } }, hostConfig: { networkMode: 'none', autoRemove: true }, pull: 'never' } });
        await engine.WaitContainer({ id: r.id, condition: 'removed' }).catch((e) => { if (!/not found|no such/i.test(e.message)) throw e; });
        return now() - t0;
      };
      for (let i = 0; i < WARM; i++) await rmOne();
      const ms = [];
      for (let i = 0; i < N; i++) ms.push(await rmOne());
      result.rmToRemoved = { p50: pct(ms, 50), p90: pct(ms, 90) };
      console.log(`--rm --network none (n=${N}): Run+Wait(removed) p50 ${fmt(result.rmToRemoved.p50)} p90 ${fmt(result.rmToRemoved.p90)} ms`);
    }

    for (const mode of MODES) {
      for (let i = 0; i < WARM; i++) await runOne(mode);
      const before = registry ? await stepSnapshot(registry) : {};
      const rpcBefore = await rpcSnapshot(stack.hosts);
      const samples = [];
      for (let i = 0; i < N; i++) samples.push(await runOne(mode));
      const after = registry ? await stepSnapshot(registry) : {};
      const col = (k) => samples.map((s) => s[k]);
      const row = { runToExitP50: pct(col('toExit'), 50), runToExitP90: pct(col('toExit'), 90), runRpcP50: pct(col('run'), 50), removeP50: pct(col('remove'), 50), removeP90: pct(col('remove'), 90) };
      result.modes[mode] = row;
      console.log(`--network ${mode} (n=${N}): Run+Wait p50 ${fmt(row.runToExitP50)} p90 ${fmt(row.runToExitP90)} | Run rpc p50 ${fmt(row.runRpcP50)} | Remove p50 ${fmt(row.removeP50)} p90 ${fmt(row.removeP90)} ms`);
      if (registry) printSteps(`--network ${mode}`, before, after);
      printRpcs(rpcBefore, await rpcSnapshot(stack.hosts));
    }

    if (C > 0) {
      const before = registry ? await stepSnapshot(registry) : {};
      const t0 = now();
      const ids = await Promise.all(Array.from({ length: C }, () => engine.RunContainer({
        create: { config: { image: 'busybox:latest', cmd: { values: ['sleep', '60'] } }, hostConfig: { networkMode: 'none' }, pull: 'never' },
      }).then((r) => r.id)));
      const tStarted = now();
      await Promise.all(ids.map((id) => engine.RemoveContainer({ id, force: true, removeVolumes: true })));
      const tRemoved = now();
      const after = registry ? await stepSnapshot(registry) : {};
      const c = { startS: (tStarted - t0) / 1000, removeS: (tRemoved - tStarted) / 1000 };
      c.startedPerS = C / c.startS;
      c.removedPerS = C / c.removeS;
      c.perSWhole = C / ((tRemoved - t0) / 1000);
      result.concurrent = c;
      console.log(`${C} concurrent: started in ${c.startS.toFixed(2)} s (${c.startedPerS.toFixed(1)}/s), removed in ${c.removeS.toFixed(2)} s (${c.removedPerS.toFixed(1)}/s); start+remove ${c.perSWhole.toFixed(1)} containers/s`);
      if (registry) printSteps(`${C} concurrent`, before, after);
    }
  } finally {
    if (engine) {
      try {
        const left = (await engine.ListContainers({ all: true })).containers;
        await Promise.all(left.map((c) => engine.RemoveContainer({ id: c.id, force: true, removeVolumes: true }).catch(() => undefined)));
      } catch { /* the stack is down */ }
      engine.close();
    }
    await stack?.stop();
    try {
      const m = new NetworkManager(networksOptions(paths));
      await m.start();
      await m.purge();
      await m.close();
    } catch (e) { console.error(`network purge: ${e.message}`); }
    removeCgroupParent(env.BERTH_CGROUP_PARENT);
    await nats.stop();
    paths.cleanup();
  }

  if (process.env.BENCH_RUNC !== '0') {
    const rootfs = makeBusyboxRootfs();
    try {
      const ms = runcPeer(rootfs.rootfs, N);
      result.runc = { p50: pct(ms, 50), p90: pct(ms, 90) };
      console.log(`runc run (same busybox rootfs, n=${N}): p50 ${fmt(result.runc.p50)} p90 ${fmt(result.runc.p90)} ms`);
    } finally {
      rootfs.cleanup();
    }
  }
  console.log(`load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (the machine is shared: compare runs made side by side)`);
  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(result, null, 2) + '\n');
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
