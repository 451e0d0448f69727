// Issue 3: Create+Start+Wait of /bin/true in a prepared busybox rootfs
// through the namespaces service's gRPC API, side by side in the same run
// with `runc run` on an equivalent OCI bundle (same rootfs, same
// namespaces); and the resident memory of one idle berth-monitor.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, stats, rssBytes, writeResult, sleep, mib, timeRuncRuns } = require('../lib');

const dist = (lib, file = 'index.js') => require(path.join(ROOT, 'libs', lib, 'dist', file));

function pssBytes(pid) {
  try {
    const m = /Pss:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function run() {
  const N = Number(process.env.BENCH_N || 50);
  const { runServices } = dist('daemon');
  const { namespacesModule } = dist('namespaces');
  const { createClient, tempPaths } = dist('kit');
  const { startNatsServer } = dist('events');
  const { makeBusyboxRootfs } = dist('runtime', 'testing/busybox-rootfs.js');

  const nats = await startNatsServer();
  const paths = tempPaths('berth-bench-ns-');
  const rootfs = makeBusyboxRootfs();
  const stack = await runServices([namespacesModule], { paths, natsUrl: nats.url, metrics: () => false });
  const sock = stack.hosts[0].info.socket;
  const ns = createClient('berth.namespaces.v1.Namespaces', [`unix:${sock}`]);
  const namespaces = ['pid', 'mount', 'uts', 'ipc', 'network'].map((type) => ({ type }));
  const spec = (args) => ({
    process: { args, env: ['PATH=/bin'], cwd: '/' },
    root: { path: rootfs.rootfs },
    hostname: 'bench',
    linux: { namespaces },
  });
  const berthMs = [];
  let monitorRss = 0;
  let monitorPss = 0;
  try {
    for (let i = 0; i < N + 5; i++) {
      const id = `bench-${process.pid}-${i}`;
      const t0 = process.hrtime.bigint();
      await ns.Create({ id, spec: spec(['/bin/true']) });
      await ns.Start({ id });
      const exit = await ns.Wait({ id });
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      await ns.Delete({ id, force: true });
      if (exit.exitCode !== 0) throw new Error(`/bin/true exited ${exit.exitCode}`);
      if (i >= 5) berthMs.push(dt); // first runs warm caches
    }
    // One idle container: its monitor's memory.
    const id = `bench-idle-${process.pid}`;
    const created = await ns.Create({ id, spec: spec(['/bin/sleep', '60']) });
    await ns.Start({ id });
    await sleep(2000);
    monitorRss = rssBytes(created.monitorPid);
    monitorPss = pssBytes(created.monitorPid);
    await ns.Delete({ id, force: true });
  } finally {
    ns.close();
    await stack.stop();
    await nats.stop();
    paths.cleanup();
  }

  // runc on an equivalent bundle: same rootfs, same namespaces, /bin/true.
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-runc-'));
  let runcMs;
  try {
    runcMs = timeRuncRuns(bundle, rootfs.rootfs, { namespaces, cgroupsPath: `/berth-bench-runc/${process.pid}` }, N, 5);
  } finally {
    for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'freezer', 'devices', 'systemd', 'unified']) {
      try { fs.rmdirSync(`/sys/fs/cgroup/${c}/berth-bench-runc`); } catch { /* absent */ }
    }
    fs.rmSync(bundle, { recursive: true, force: true });
    rootfs.cleanup();
  }
  const b = stats(berthMs);
  const r = stats(runcMs);
  writeResult('namespaces', 'Namespaces: container Create+Start+Wait of /bin/true, and monitor memory (issue 3)', [
    { metric: `Create+Start+Wait /bin/true through gRPC, p50 (n=${N})`, unit: 'ms', berth: b.p50, peerName: 'runc run (same rootfs and namespaces)', peer: r.p50, ratio: b.p50 / r.p50, target: '≤ runc' },
    { metric: 'Create+Start+Wait /bin/true, p99', unit: 'ms', berth: b.p99, peerName: 'runc run', peer: r.p99, ratio: b.p99 / r.p99 },
    { metric: 'idle berth-monitor resident memory (VmRSS)', unit: 'MiB', berth: mib(monitorRss), peerName: 'Podman conmon (issue figure)', peer: 2.0, ratio: mib(monitorRss) / 2.0, target: '≤ 1 MiB' },
    { metric: 'idle berth-monitor proportional memory (Pss)', unit: 'MiB', berth: mib(monitorPss) },
  ], [
    'Both sides run the same busybox rootfs with new pid, mount, uts, ipc and network namespaces. runc also creates and removes a cgroup per run; in berth that is the cgroups service\'s job, outside this measurement.',
    'berth includes a gRPC round trip per call (Create, Start, Wait) over its unix socket and the daemonized monitor per container; the first 5 runs of each side are warm-up and not counted.',
    'Conmon (2.0 MiB) and containerd-shim-runc-v2 (12.3 MiB) figures are the issue\'s measurements on this machine.',
  ]);
}

module.exports = { run };
