// Issue 8: the engine and the `berth` CLI against Podman (Debian's, with runc)
// on the same busybox image, interleaved in one run:
//   - `berth run --rm busybox true` as a user types it (a fresh CLI process),
//     bridge and --network none, vs `podman run --rm` the same ways;
//   - Run to exit through the engine's gRPC API on a warm stack (RunContainer
//     then WaitContainer, the container removed outside the timing) vs
//     `runc run` of /bin/true on a busybox bundle;
//   - 20 and 100 containers started concurrently then removed, containers per
//     second, through the CLI for both (and through one gRPC client for berth).
// The suite starts its own stack (own root/run dirs, NATS, cgroup parent,
// bridge, subnet and chains) and its own Podman (own --root/--runroot, vfs
// storage, its own network config dir and a network on a 10.219.12x subnet),
// and removes all of it at the end. Env: BENCH_N (CLI and gRPC runs per case,
// default 20), BENCH_CONCURRENT (comma list of
// counts, default 20,100), BENCH_ROUNDS (concurrent rounds,
// default 3), BENCH_CASES (comma list of grpc,cli,concurrent; default all).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, percentile, writeResult, sleep, timeRuncRuns } = require('../lib');

const dist = (lib, file = 'index.js') => require(path.join(ROOT, 'libs', lib, 'dist', file));
const BERTH = path.join(ROOT, 'apps', 'cli', 'bin', 'berth');
const SERVICES = ['ENGINE', 'NAMESPACES', 'CGROUPS', 'LAYERS', 'NETWORKS', 'IMAGES', 'DOCKER_API'];
// Podman: runc with cgroupfs (crun refuses this host's hybrid cgroup layout),
// rlimits within the VM's hard limits (its root cannot raise them).
const PODMAN_RUN = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const p = (v, q) => percentile(v, q);

/** Runs a command to completion; rejects with its stderr when it fails. */
function exec(file, args, env, { timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(file)} ${args.join(' ')} exited ${code ?? signal}: ${err.trim().slice(-600)}`));
    });
  });
}

/** Times one command; fails the suite when it fails (a failed run is no measurement). */
async function timed(file, args, env) {
  const t0 = process.hrtime.bigint();
  await exec(file, args, env);
  return ms(t0);
}

/** The suite's berth stack: own dirs, names and NATS (`extra` adds or overrides env); stop() removes every trace. */
async function startStack(tag, extra = {}) {
  const { startNatsServer } = dist('events');
  // Short run dir: the namespaces service keeps sockets in <run>/namespaces/<64 hex>/.
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'bpe-'));
  const nats = await startNatsServer();
  const env = {
    ...process.env,
    BERTH_ROOT: path.join(base, 'root'), BERTH_RUN: path.join(base, 'r'), BERTH_LOG_LEVEL: 'warn', NATS_URL: nats.url,
    BERTH_CGROUP_PARENT: `berth-test-p${tag}`, BERTH_DEFAULT_BRIDGE: `bt-p${tag}`, BERTH_DEFAULT_SUBNET: '10.219.122.0/24',
    BERTH_BRIDGE_PREFIX: `btp${tag.slice(0, 4)}-`, BERTH_CHAIN_PREFIX: `BERTH-P${tag.toUpperCase()}`, BERTH_DNS_UPSTREAMS: '127.0.0.1:9',
  };
  for (const s of SERVICES) env[`BERTH_${s}_METRICS`] = '0';
  Object.assign(env, extra);
  const stop = async () => {
    await exec(BERTH, ['daemon', 'down'], env).catch((e) => process.stderr.write(`engine bench: daemon down: ${e.message}\n`));
    try {
      const { NetworkManager, networksOptions } = dist('networks');
      const m = new NetworkManager(networksOptions({ root: env.BERTH_ROOT, run: env.BERTH_RUN }, env));
      await m.start();
      await m.purge();
      await m.close();
    } finally {
      dist('cgroups').removeCgroupParent(env.BERTH_CGROUP_PARENT);
      await nats.stop();
      fs.rmSync(base, { recursive: true, force: true });
    }
  };
  try {
    await exec(BERTH, ['daemon', 'up'], env);
  } catch (e) {
    await stop();
    throw e;
  }
  return { env, base, stop };
}

/** Removes every container of the stack (a failed round may leave some). */
async function removeAll(env) {
  const ids = (await exec(BERTH, ['ps', '-aq', '--no-trunc'], env)).split(/\s+/).filter(Boolean);
  if (ids.length) await exec(BERTH, ['rm', '-f', ...ids], env);
}

/** The suite's Podman: own storage, run root and network config, one network of its own. */
async function startPodman(tag, env, imageTar) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'bpp-'));
  const global = ['--root', path.join(base, 'root'), '--runroot', path.join(base, 'run'), '--storage-driver', 'vfs',
    '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--network-config-dir', path.join(base, 'net'),
    // Its libpod state and volumes under our dir too: the defaults (/run/libpod,
    // /var/lib/containers/storage/volumes) are shared with any other Podman here,
    // and `system reset` empties them.
    '--tmpdir', path.join(base, 'tmp'), '--volumepath', path.join(base, 'vol')];
  const network = `btp-${tag}`;
  const podman = (args) => exec('podman', [...global, ...args], env);
  let bridge = '';
  let image = '';
  const stop = async () => {
    await podman(['rm', '-af', '-t', '0']).catch(() => undefined);
    await podman(['network', 'rm', '-f', network]).catch(() => undefined);
    await podman(['system', 'reset', '-f']).catch(() => undefined);
    // netavark deletes the bridge with its last container; make sure, but only
    // ours (it still carries our subnet's gateway).
    if (bridge) {
      const addr = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge], { encoding: 'utf8' }).stdout ?? '';
      if (addr.includes('10.219.125.1/')) spawnSync('ip', ['link', 'del', bridge]);
    }
    fs.rmSync(base, { recursive: true, force: true });
  };
  try {
    // The name Podman gives the loaded image ("Loaded image: <name>"): it
    // depends on the archive's layout and Podman's normalization.
    const loaded = /Loaded image(?:\(s\))?: *(\S+)/.exec(await podman(['load', '-i', imageTar]));
    if (!loaded) throw new Error('podman load named no image');
    image = loaded[1].split(',')[0];
    await podman(['network', 'create', '--subnet', '10.219.125.0/24', network]);
    bridge = (await podman(['network', 'inspect', network, '--format', '{{.NetworkInterface}}'])).trim();
  } catch (e) {
    await stop();
    throw e;
  }
  return { global, network, image, podman, stop };
}

/** `runc run` of /bin/true on a busybox bundle, timed N times (after warm-up). */
function runcTimes(n) {
  const { makeBusyboxRootfs } = dist('runtime', 'testing/busybox-rootfs.js');
  const rootfs = makeBusyboxRootfs();
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-runc-'));
  const parent = `berth-bench-runc-${process.pid}`;
  try {
    return timeRuncRuns(bundle, rootfs.rootfs, { cgroupsPath: `/${parent}/c` }, n, 3);
  } finally {
    dist('cgroups').removeCgroupParent(parent);
    fs.rmSync(bundle, { recursive: true, force: true });
    rootfs.cleanup();
  }
}

/** Run to exit through the engine's gRPC API: RunContainer + WaitContainer; removal untimed. */
async function grpcRunToExit(env, n, networkMode) {
  const { createClient } = dist('kit');
  const engine = createClient('berth.engine.v1.Engine', [`unix:${path.join(env.BERTH_RUN, 'engine.sock')}`]);
  const times = [];
  try {
    for (let i = 0; i < n + 3; i++) {
      const t0 = process.hrtime.bigint();
      const { id } = await engine.RunContainer({ create: { config: { image: 'busybox:latest', cmd: { values: ['true'] } }, hostConfig: { networkMode }, pull: 'never' } });
      const exit = await engine.WaitContainer({ id, condition: 'not-running' });
      const dt = ms(t0);
      await engine.RemoveContainer({ id, force: true, removeVolumes: true });
      if (exit.exitCode !== 0) throw new Error(`true exited ${exit.exitCode} ${exit.error}`);
      if (i >= 3) times.push(dt);
    }
  } finally {
    engine.close();
  }
  return times;
}

/** 100 containers started at once through one gRPC client, then removed at once. */
async function grpcConcurrent(env, count) {
  const { createClient } = dist('kit');
  const engine = createClient('berth.engine.v1.Engine', [`unix:${path.join(env.BERTH_RUN, 'engine.sock')}`], { timeoutMs: 300_000 });
  try {
    const t0 = process.hrtime.bigint();
    const ids = (await Promise.all(Array.from({ length: count }, () =>
      engine.RunContainer({ create: { config: { image: 'busybox:latest', cmd: { values: ['sleep', '600'] } }, hostConfig: {}, pull: 'never' } })))).map((r) => r.id);
    const start = ms(t0);
    const t1 = process.hrtime.bigint();
    await Promise.all(ids.map((id) => engine.RemoveContainer({ id, force: true, removeVolumes: true })));
    return { start, remove: ms(t1) };
  } finally {
    engine.close();
  }
}

/** 100 `run -d` processes at once, then one `rm -f` of them all (as a user scripts it). */
async function cliConcurrent(file, runArgs, rmArgs, env, count) {
  const t0 = process.hrtime.bigint();
  const ids = (await Promise.all(Array.from({ length: count }, () => exec(file, runArgs, env, { timeoutMs: 300_000 })))).map((o) => o.trim().split('\n').pop());
  const start = ms(t0);
  const t1 = process.hrtime.bigint();
  await exec(file, [...rmArgs, ...ids], env, { timeoutMs: 300_000 });
  return { start, remove: ms(t1) };
}

/** utime + stime of a process in ms (/proc/<pid>/stat fields 14 and 15, in clock ticks of 100 Hz). */
function cpuMsOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU per `berth run --rm busybox true`: the CLI processes (bash's `times` of its children) and berthd's own. */
async function cpuPerRun(stack, env, n) {
  const info = JSON.parse(fs.readFileSync(path.join(stack.env.BERTH_RUN, 'engine.json'), 'utf8'));
  const before = cpuMsOf(info.pid);
  const out = await exec('bash', ['-c', 'for ((i = 0; i < $1; i++)); do "${@:2}" >/dev/null || exit 1; done; times', 'cpu', String(n), process.execPath, BERTH, 'run', '--rm', 'busybox', 'true'], env);
  const services = cpuMsOf(info.pid) - before;
  // `times` prints the shell's user/system times, then its children's: "0m0.210s 0m0.050s".
  const children = out.trim().split('\n').pop().split(/\s+/).map((x) => { const m = /(\d+)m([\d.]+)s/.exec(x); return m ? Number(m[1]) * 60_000 + Number(m[2]) * 1000 : 0; });
  return { cli: (children[0] + children[1]) / n, services: services / n };
}

const median = (v) => percentile(v, 50);
const verdict = (ok) => (ok ? 'met' : 'not met');

async function run() {
  const N = Number(process.env.BENCH_N || 20);
  const COUNTS = (process.env.BENCH_CONCURRENT || '20,100').split(',').map(Number);
  if (COUNTS.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`BENCH_CONCURRENT: a comma list of positive counts, got "${process.env.BENCH_CONCURRENT}"`);
  const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
  const cases = new Set((process.env.BENCH_CASES || 'grpc,cli,concurrent').split(','));
  const tag = crypto.randomBytes(3).toString('hex');
  const rows = [];
  const notes = [];
  const load0 = os.loadavg();
  const stack = await startStack(tag);
  let pm;
  try {
    const env = stack.env;
    // Warm the stack: the image, its layer, the bridge.
    await exec(BERTH, ['run', '--rm', 'busybox', 'true'], env);

    // The load at each part's start and end: the concurrent part loads the
    // machine itself (hundreds of processes), the others must be read at
    // the load they ran under.
    const phases = [];
    const phase = (name, t0) => phases.push(`${name} ${t0.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)}`);
    let l0 = os.loadavg()[0];
    if (cases.has('grpc')) {
      const runc = runcTimes(N);
      const none = await grpcRunToExit(env, N, 'none');
      const bridge = await grpcRunToExit(env, N, 'bridge');
      rows.push(
        { metric: `gRPC RunContainer → WaitContainer of \`true\`, --network none, p50 (n=${N})`, unit: 'ms', berth: p(none, 50), peerName: 'runc run /bin/true (busybox bundle)', peer: p(runc, 50), ratio: p(none, 50) / p(runc, 50), target: '≤ runc run' },
        { metric: 'same, p90', unit: 'ms', berth: p(none, 90), peerName: 'runc run', peer: p(runc, 90), ratio: p(none, 90) / p(runc, 90) },
        { metric: `gRPC RunContainer → WaitContainer of \`true\`, bridge network, p50 (n=${N})`, unit: 'ms', berth: p(bridge, 50), peerName: 'runc run (no network)', peer: p(runc, 50), ratio: p(bridge, 50) / p(runc, 50) },
        { metric: 'same, p90', unit: 'ms', berth: p(bridge, 90), peerName: 'runc run', peer: p(runc, 90), ratio: p(bridge, 90) / p(runc, 90) },
      );
      notes.push(`Target gRPC Run to exit (--network none) ≤ runc run: ${verdict(p(none, 50) <= p(runc, 50))} in this run (p50 ratio ${(p(none, 50) / p(runc, 50)).toFixed(2)}).`);
      phase('gRPC', l0);
      notes.push('gRPC Run to exit: one client over the engine\'s unix socket on a warm stack, from the RunContainer call to the WaitContainer reply (image resolve, snapshot, cgroup, process, network, start, exit); RemoveContainer follows untimed. runc runs the same busybox binary with its default spec (new pid/mount/uts/ipc/network namespaces, a cgroup) and no network setup.');
    }

    if (cases.has('cli') || cases.has('concurrent')) {
      const tar = path.join(stack.base, 'busybox.tar');
      await exec(BERTH, ['image', 'save', 'busybox:latest', '-o', tar], env);
      pm = await startPodman(tag, env, tar);
    }

    l0 = os.loadavg()[0];
    if (cases.has('cli')) {
      // The CLI as users start it, from its bundle (apps/cli/src/launch.ts):
      // a `tsc -b` since the build makes it stale and the CLI would run from
      // the module tree, so it is built again here when it is not current.
      const app = path.join(ROOT, 'apps', 'cli');
      if (!require(path.join(app, 'dist', 'launch.js')).currentBundle(app)) {
        const built = spawnSync(process.execPath, [path.join(app, 'build-bundle.js')], { stdio: 'inherit' });
        if (built.status !== 0) throw new Error('cannot build the CLI bundle (apps/cli/build-bundle.js)');
      }
      // berth's CLI is a Node process: NODE_EXTRA_CA_CERTS (set on some
      // machines, not on a user's) adds ~55 ms to every Node start. The main
      // rows run without it, as users have it; where this machine sets it,
      // the same commands run with it too.
      const userEnv = { ...env };
      delete userEnv.NODE_EXTRA_CA_CERTS;
      const ca = env.NODE_EXTRA_CA_CERTS;
      const c = {
        // Node's own start, in the same rounds: what `berth version` spends above it is the CLI's.
        nodeFloor: ['node -e 0', process.execPath, ['-e', '0'], userEnv],
        berthVersion: ['berth version', BERTH, ['version'], userEnv],
        podmanVersion: ['podman version', 'podman', [...pm.global, 'version'], userEnv],
        berthBridge: ['berth bridge', BERTH, ['run', '--rm', 'busybox', 'true'], userEnv],
        berthNone: ['berth none', BERTH, ['run', '--rm', '--network', 'none', 'busybox', 'true'], userEnv],
        podmanBridge: ['podman bridge', 'podman', [...pm.global, 'run', '--rm', ...PODMAN_RUN, '--network', pm.network, pm.image, 'true'], userEnv],
        podmanNone: ['podman none', 'podman', [...pm.global, 'run', '--rm', ...PODMAN_RUN, '--network', 'none', pm.image, 'true'], userEnv],
        ...(ca ? {
          berthVersionCa: ['berth version (CA)', BERTH, ['version'], env],
          berthBridgeCa: ['berth bridge (CA)', BERTH, ['run', '--rm', 'busybox', 'true'], env],
          berthNoneCa: ['berth none (CA)', BERTH, ['run', '--rm', '--network', 'none', 'busybox', 'true'], env],
        } : {}),
      };
      const t = Object.fromEntries(Object.keys(c).map((k) => [k, []]));
      const keys = Object.keys(c);
      // Interleaved, the order rotated each round, so drift in the machine's
      // load falls on every contestant alike; the first 2 rounds warm caches.
      for (let i = 0; i < N + 2; i++) {
        for (let j = 0; j < keys.length; j++) {
          const k = keys[(i + j) % keys.length];
          const [, file, args, caseEnv] = c[k];
          const dt = await timed(file, args, caseEnv);
          if (i >= 2) t[k].push(dt);
        }
      }
      const row = (metric, b, pk, peerName, target) => [
        { metric: `${metric}, p50 (n=${N})`, unit: 'ms', berth: p(t[b], 50), peerName, peer: p(t[pk], 50), ratio: p(t[b], 50) / p(t[pk], 50), target },
        { metric: `${metric}, p90`, unit: 'ms', berth: p(t[b], 90), peerName, peer: p(t[pk], 90), ratio: p(t[b], 90) / p(t[pk], 90) },
      ];
      rows.push(
        ...row('`berth run --rm busybox true`, bridge network, as typed', 'berthBridge', 'podmanBridge', '`podman run --rm` (runc, own bridge network)', '≤ 0.5 × podman'),
        ...row('`berth run --rm --network none busybox true`', 'berthNone', 'podmanNone', '`podman run --rm --network none`', '≤ podman'),
        ...row('`berth version` (CLI start, one Version call)', 'berthVersion', 'podmanVersion', '`podman version`'),
        ...row('`berth version` over Node\'s own start', 'berthVersion', 'nodeFloor', '`node -e 0` (Node\'s floor, NODE_EXTRA_CA_CERTS unset)'),
      );
      notes.push(`\`berth version\` above Node's floor (\`node -e 0\`, same rounds): ${(p(t.berthVersion, 50) - p(t.nodeFloor, 50)).toFixed(0)} ms at p50; the floor is what any Node CLI pays before its first line runs.`);
      if (ca) {
        rows.push(
          ...row('same as typed with NODE_EXTRA_CA_CERTS set, bridge', 'berthBridgeCa', 'podmanBridge', '`podman run --rm` (runc, own bridge network)'),
          ...row('same with NODE_EXTRA_CA_CERTS set, --network none', 'berthNoneCa', 'podmanNone', '`podman run --rm --network none`'),
          ...row('`berth version` with NODE_EXTRA_CA_CERTS set', 'berthVersionCa', 'podmanVersion', '`podman version`'),
        );
      }
      const cpu = await cpuPerRun(stack, userEnv, N);
      rows.push(
        { metric: `CPU per \`berth run --rm busybox true\` (bridge): the CLI process, mean of ${N}`, unit: 'ms', berth: cpu.cli },
        { metric: '  and the services (berthd), same runs', unit: 'ms', berth: cpu.services },
      );
      notes.push('CPU rows: user + system time of the CLI processes (bash `times` over the runs) and of the berthd process (/proc/<pid>/stat before and after), divided by the number of runs; monitors and shims are not counted (a monitor lives as long as its container).');
      const rb = p(t.berthBridge, 50) / p(t.podmanBridge, 50);
      const rn = p(t.berthNone, 50) / p(t.podmanNone, 50);
      notes.push(`Targets in this run: bridge ≤ 0.5 × Podman ${verdict(rb <= 0.5)} (p50 ratio ${rb.toFixed(2)}); --network none ≤ Podman ${verdict(rn <= 1)} (p50 ratio ${rn.toFixed(2)}).`);
      notes.push('CLI rows time a fresh process each, as a user types it, from spawn to exit: Node start, the CLI, the gRPC calls, the container, its removal; Podman likewise (runc, cgroupfs, vfs storage of its own, the same busybox image loaded from `berth image save`). Runs are interleaved and their order rotated every round.');
    }

    if (cases.has('cli')) phase('CLI', l0);
    l0 = os.loadavg()[0];
    if (cases.has('concurrent')) for (const COUNT of COUNTS) {
      const b = [];
      const g = [];
      const q = [];
      for (let r = 0; r < ROUNDS; r++) {
        b.push(await cliConcurrent(BERTH, ['run', '-d', 'busybox', 'sleep', '600'], ['rm', '-f'], env, COUNT));
        await removeAll(env);
        q.push(await cliConcurrent('podman', [...pm.global, 'run', '-d', ...PODMAN_RUN, '--network', pm.network, pm.image, 'sleep', '600'], [...pm.global, 'rm', '-f', '-t', '0'], env, COUNT));
        g.push(await grpcConcurrent(env, COUNT));
        await removeAll(env);
      }
      const perSec = (x) => COUNT / ((x.start + x.remove) / 1000);
      const startPerSec = (x) => COUNT / (x.start / 1000);
      rows.push(
        { metric: `${COUNT} containers started concurrently then removed, CLI (\`run -d\` ×${COUNT}, one \`rm -f\`), median of ${ROUNDS}`, unit: 'containers/s', berth: median(b.map(perSec)), peerName: 'podman (same commands)', peer: median(q.map(perSec)), ratio: median(b.map(perSec)) / median(q.map(perSec)), target: 'higher is better', better: 'higher' },
        { metric: `  of which starting ${COUNT} at once`, unit: 'containers/s', berth: median(b.map(startPerSec)), peerName: 'podman', peer: median(q.map(startPerSec)), ratio: median(b.map(startPerSec)) / median(q.map(startPerSec)), better: 'higher' },
        { metric: `${COUNT} started concurrently then removed through one gRPC client, median of ${ROUNDS}`, unit: 'containers/s', berth: median(g.map(perSec)), peerName: 'podman CLI (above)', peer: median(q.map(perSec)), ratio: median(g.map(perSec)) / median(q.map(perSec)), better: 'higher' },
      );
      if (COUNT === COUNTS[COUNTS.length - 1]) notes.push(`Concurrent rows: ${COUNTS.join(' and ')} \`sleep 600\` containers on the default bridge (berth) / the suite's own network (Podman), all started at once, then removed with one \`rm -f\` (Podman \`rm -f -t 0\`, so neither waits for a stop timeout); containers/s = the count / (start + remove time). For containers/s, higher is better (ratio above 1 favours berth).`);
    }
    if (cases.has('concurrent')) phase('concurrent', l0);
    if (phases.length > 1) notes.push(`Load average (1 min) at each part's start and end: ${phases.join(', ')}.`);
  } finally {
    if (pm) await pm.stop().catch((e) => process.stderr.write(`engine bench: podman cleanup: ${e.message}\n`));
    await removeAll(stack.env).catch(() => undefined);
    await stack.stop();
  }
  const load1 = os.loadavg();
  notes.push(`Machine load average (1 min) at the start and end of this run: ${load0[0].toFixed(1)} and ${load1[0].toFixed(1)} on ${os.cpus().length} CPUs; every contestant ran under the same load, interleaved.`);
  await sleep(0);
  return writeResult('engine', 'Engine and CLI: run latency and concurrent starts vs Podman and runc (issue 8)', rows, notes);
}

// startStack, startPodman, exec and timed are shared with the suites that time `berth run` variants (seccomp.js, docker-api.js).
module.exports = { run, startStack, startPodman, exec, timed };
