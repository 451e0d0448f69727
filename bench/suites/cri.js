// Issue 15: berth's CRI (BERTH_RUN/cri.sock, hosted by berthd) against
// containerd from Debian with its CRI plugin, side by side on the same images
// from the same local registry, driven the same way by crictl (cri-tools
// v1.26.1, as kubelet's calls: one crictl process per call):
//   - a pod up: RunPodSandbox + CreateContainer + StartContainer of a busybox
//     container running `sleep 3600`, to CONTAINER_RUNNING (checked, untimed);
//   - its teardown: StopPodSandbox + RemovePodSandbox.
// Rounds are interleaved (berth then containerd, order swapped every round),
// the first 2 warm caches. Both runtimes put the pod on a bridge of their own
// with host-local addresses: berth's default network (its native datapath),
// containerd's a CNI bridge conflist (containernetworking-plugins' bridge +
// host-local, no masquerade or portmap: nothing in iptables).
// Images: scripts/cri-images.sh starts the fixtures' docker-registry on
// 127.0.0.1 (with critest's images) and writes hosts.toml files making it the
// mirror of registry.k8s.io; berth reads them through BERTH_REGISTRY_CONFIG,
// containerd through its registry config_path. The container's image is
// berth's busybox (`berth image save`) pushed there as IMAGE: critest's e2e
// busybox:1.29-2 (umoci-built, a tar entry named "/") is refused by berth's
// layer unpacker. The same with `sleep 2147483647` as its command is
// containerd's sandbox image (PAUSE); berth's pause is its own berth-init
// --pause. Both images are pulled before timing.
// Everything is the suite's own: the berth stack (engine.js's startStack:
// dirs, NATS, cgroup parent, bridge, chains; subnet 10.219.126.0/24),
// containerd's root, state, socket and config (cgroupfs, overlayfs, runc) in a
// temp dir, its CNI bridge on 10.219.127.0/24, both pods' cgroups under
// /berth-test-k<tag>; all removed at the end. Env: BENCH_N (rounds, default 10).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { ROOT, percentile, writeResult, sleep } = require('../lib');
const { startStack, exec } = require('./engine');

const dist = (lib, file = 'index.js') => require(path.join(ROOT, 'libs', lib, 'dist', file));
const CRICTL = path.join(process.env.BERTH_CRI_TOOLS || '/work/shared/tools/cri', 'crictl');
const CONTAINERD = '/usr/bin/containerd';
const IMAGE = 'registry.k8s.io/e2e-test-images/busybox:berth-bench';
const PAUSE = 'registry.k8s.io/pause:3.6';
const N = Number(process.env.BENCH_N || 10);
const WARM = 2;
const BERTH_SUBNET = '10.219.126.0/24';
const CTRD_SUBNET = '10.219.127.0/24';
const p = (v, q) => percentile(v, q);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no free port'))));
    });
  });
}

/** crictl against one runtime's socket (runtime and image endpoint). */
function crictl(sock, args) {
  const ep = `unix://${sock}`;
  return exec(CRICTL, ['--runtime-endpoint', ep, '--image-endpoint', ep, '--timeout', '60s', ...args], process.env);
}

/** The local registry of critest's images (scripts/cri-images.sh) and its mirror hosts.toml; stop() kills it. */
async function startRegistry(base) {
  const certs = path.join(base, 'certs.d');
  const dir = path.join(base, 'registry');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let pid = 0;
  const stop = async () => {
    if (pid) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  };
  try {
    await exec('bash', [path.join(ROOT, 'scripts', 'cri-images.sh'), '--certs-dir', certs, '--dir', dir, '--port', String(port)], process.env, { timeoutMs: 600_000 });
    pid = Number(fs.readFileSync(path.join(dir, 'registry.pid'), 'utf8').trim());
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, certs, stop };
}

/**
 * Pushes berth's busybox image (`berth image save`, made from the host's
 * busybox-static) to the registry as IMAGE, and the same with `sleep
 * 2147483647` as its command as PAUSE (containerd's sandbox image).
 */
async function pushImages(base, host, env) {
  const tar = path.join(base, 'busybox.tar');
  const layout = path.join(base, 'layout');
  await exec(path.join(ROOT, 'apps', 'cli', 'bin', 'berth'), ['image', 'save', 'busybox:latest', '-o', tar], env);
  await exec('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-archive:${tar}`, `docker://${host}/${IMAGE.slice(IMAGE.indexOf('/') + 1)}`], process.env);
  await exec('skopeo', ['copy', '--quiet', `docker-archive:${tar}`, `oci:${layout}:pause`], process.env);
  await exec('umoci', ['config', '--image', `${layout}:pause`, '--clear=config.entrypoint', '--clear=config.cmd', '--config.cmd', 'sleep', '--config.cmd', '2147483647'], process.env);
  await exec('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:pause`, `docker://${host}/${PAUSE.slice(PAUSE.indexOf('/') + 1)}`], process.env);
  fs.rmSync(layout, { recursive: true, force: true });
  fs.rmSync(tar, { force: true });
}

/** containerd with its own root, state, socket, CNI config and bridge; stop() ends it and removes its traces. */
async function startContainerd(base, tag, certs) {
  const dir = path.join(base, 'containerd');
  const sock = path.join(dir, 'containerd.sock');
  const netd = path.join(dir, 'net.d');
  const bridge = `btc${tag}`;
  fs.mkdirSync(netd, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(netd, '10-bench.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: `bt-cri-${tag}`,
    plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: CTRD_SUBNET }]], dataDir: path.join(dir, 'ipam') } }],
  }, null, 2));
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  fs.writeFileSync(path.join(dir, 'config.toml'), [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
    '[grpc]', `  address = "${sock}"`,
    '[ttrpc]', `  address = "${sock}.ttrpc"`,
    '[debug]', '  address = ""', '  level = "warn"',
    '[metrics]', '  address = ""',
    `[${cri}]`, `  sandbox_image = "${PAUSE}"`, '  stream_server_address = "127.0.0.1"', '  stream_server_port = "0"',
    '  disable_apparmor = true', '  enable_selinux = false',
    // This host cannot lower oom_score_adj (no CAP_SYS_RESOURCE): the sandbox's -998 is raised to containerd's own.
    '  restrict_oom_score_adj = true',
    `[${cri}.containerd]`, '  snapshotter = "overlayfs"', '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`, '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`, '  SystemdCgroup = false', '  BinaryName = "/usr/sbin/runc"', `  Root = "${dir}/runc"`,
    `[${cri}.cni]`, '  bin_dir = "/usr/lib/cni"', `  conf_dir = "${netd}"`, '  max_conf_num = 1',
    `[${cri}.registry]`, `  config_path = "${certs}"`,
    '[plugins."io.containerd.internal.v1.opt"]', `  path = "${dir}/opt"`,
    '',
  ].join('\n'));
  // containerd 1.6 keeps its shims' sockets in /run/containerd/s whatever its state dir: removed after, if it made them and they are empty.
  const shimDirs = ['/run/containerd/s', '/run/containerd'].filter((d) => !fs.existsSync(d));
  const log = fs.openSync(path.join(base, 'containerd.log'), 'a');
  const child = spawn(CONTAINERD, ['--config', path.join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const stop = async () => {
    if (child.exitCode === null) {
      // A failed round may leave a pod (and its runc shim) behind.
      await crictl(sock, ['rmp', '--all', '--force']).catch(() => undefined);
      child.kill('SIGTERM');
      for (let i = 0; i < 100 && child.exitCode === null; i++) await sleep(100);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // Whatever is still mounted under its root (nothing after every rmp).
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(dir + '/'));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    const addr = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge], { encoding: 'utf8' }).stdout ?? '';
    if (addr.includes('10.219.127.')) spawnSync('ip', ['link', 'del', bridge]);
    for (const d of shimDirs) try { fs.rmdirSync(d); } catch { /* not empty: another containerd's */ }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (fs.existsSync(sock)) {
      try {
        const info = JSON.parse(await crictl(sock, ['info']));
        if (info.status.conditions.every((c) => c.status)) break;
      } catch { /* not ready yet */ }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not become ready: ${fs.readFileSync(path.join(base, 'containerd.log'), 'utf8').slice(-1500)}`);
    }
    await sleep(200);
  }
  return { sock, pid: child.pid, stop };
}

/** One round on one runtime: the pod up (timed), RUNNING checked (untimed), teardown (timed). */
async function round(sock, base, name, i, tag) {
  const dir = path.join(base, 'pods', `${name}-${i}`);
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const pod = path.join(dir, 'pod.json');
  fs.writeFileSync(pod, JSON.stringify({
    metadata: { name: `bench-${i}`, namespace: 'default', uid: `bench-${name}-${tag}-${i}`, attempt: 0 },
    log_directory: path.join(dir, 'logs'), linux: { cgroup_parent: `/berth-test-k${tag}` },
  }));
  const ctr = path.join(dir, 'ctr.json');
  fs.writeFileSync(ctr, JSON.stringify({ metadata: { name: 'sleep' }, image: { image: IMAGE }, command: ['sleep', '3600'], log_path: 'sleep.log' }));
  const t0 = process.hrtime.bigint();
  const podId = (await crictl(sock, ['runp', pod])).trim();
  const cid = (await crictl(sock, ['create', '--no-pull', podId, ctr, pod])).trim();
  await crictl(sock, ['start', cid]);
  const up = ms(t0);
  const state = JSON.parse(await crictl(sock, ['inspect', cid])).status.state;
  if (state !== 'CONTAINER_RUNNING') throw new Error(`${name}: container ${cid} is ${state} after start`);
  const t1 = process.hrtime.bigint();
  await crictl(sock, ['stopp', podId]);
  await crictl(sock, ['rmp', podId]);
  const down = ms(t1);
  if ((await crictl(sock, ['pods', '-q'])).trim()) throw new Error(`${name}: pods left after rmp`);
  return { up, down };
}

async function run() {
  const load0 = os.loadavg();
  const tag = Math.random().toString(16).slice(2, 8);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bcri-'));
  const rows = [];
  const notes = [];
  let reg;
  let ctrd;
  let stack;
  try {
    reg = await startRegistry(base);
    stack = await startStack(tag, { BERTH_REGISTRY_CONFIG: reg.certs, BERTH_DEFAULT_SUBNET: BERTH_SUBNET, BERTH_CRI_METRICS: '0' });
    const berthSock = path.join(stack.env.BERTH_RUN, 'cri.sock');
    await pushImages(base, reg.host, stack.env);
    ctrd = await startContainerd(base, tag, reg.certs);
    const socks = { berth: berthSock, containerd: ctrd.sock };
    await crictl(berthSock, ['pull', IMAGE]);
    await crictl(ctrd.sock, ['pull', IMAGE]);
    await crictl(ctrd.sock, ['pull', PAUSE]);

    const t = { berth: { up: [], down: [] }, containerd: { up: [], down: [] } };
    for (let i = 0; i < N + WARM; i++) {
      for (const name of i % 2 ? ['containerd', 'berth'] : ['berth', 'containerd']) {
        const r = await round(socks[name], base, name, i, tag);
        if (i >= WARM) { t[name].up.push(r.up); t[name].down.push(r.down); }
      }
    }
    // crictl's own cost per call: a process start that makes no call.
    const own = [];
    for (let i = 0; i < 10; i++) {
      const t0 = process.hrtime.bigint();
      await exec(CRICTL, ['--version'], process.env);
      own.push(ms(t0));
    }
    const peerName = 'containerd 1.6 (Debian) CRI plugin, runc, overlayfs, CNI bridge';
    const row = (metric, k) => [
      { metric: `${metric}, p50 (n=${N})`, unit: 'ms', berth: p(t.berth[k], 50), peerName, peer: p(t.containerd[k], 50), ratio: p(t.berth[k], 50) / p(t.containerd[k], 50), better: 'lower' },
      { metric: `${metric}, p90`, unit: 'ms', berth: p(t.berth[k], 90), peerName, peer: p(t.containerd[k], 90), ratio: p(t.berth[k], 90) / p(t.containerd[k], 90), better: 'lower' },
    ];
    rows.push(
      ...row('Pod up: `crictl runp` + `create` + `start` of busybox `sleep 3600`, to running', 'up'),
      ...row('Pod teardown: `crictl stopp` + `rmp`', 'down'),
    );
    notes.push(`Timed with crictl (cri-tools v1.26.1), one process per CRI call as a user or script drives it: 3 calls for a pod up, 2 for teardown. crictl's own start (\`crictl --version\`, no call) is ${p(own, 50).toFixed(1)} ms p50 on this machine, the same for both runtimes and included in every row.`);
    notes.push('The image is berth\'s busybox (`berth image save`, from the host\'s busybox-static) pushed to the fixtures\' registry as ' + IMAGE + ' and, with `sleep 2147483647` as its command, as ' + PAUSE + ' (containerd\'s sandbox image): critest\'s own e2e busybox:1.29-2 from scripts/cri-images.sh is refused by berth\'s pull (its umoci-written layer has a tar entry named "/", which the layer unpacker rejects as absolute). containerd runs with restrict_oom_score_adj: this host cannot lower oom_score_adj, and its sandbox default (-998) fails runc create.');
    notes.push('Rounds interleaved, berth first on even rounds and containerd first on odd ones, after 2 warm-up rounds; the image and containerd\'s pause image are pulled before. Both pods: same pod and container config, cgroup parent /berth-test-k<tag> (cgroupfs), a bridge with host-local addresses (berth: its default network; containerd: CNI bridge + host-local from /usr/lib/cni, no masquerade). The pause process: berth\'s own `berth-init --pause` (runs nothing, reaps, exits on SIGTERM), containerd\'s busybox `sleep 2147483647` from its sandbox image.');
  } finally {
    if (ctrd) await ctrd.stop().catch((e) => process.stderr.write(`cri bench: containerd cleanup: ${e.message}\n`));
    if (stack) {
      await crictl(path.join(stack.env.BERTH_RUN, 'cri.sock'), ['rmp', '--all', '--force']).catch(() => undefined);
      await stack.stop();
    }
    if (reg) await reg.stop();
    try { dist('cgroups').removeCgroupParent(`berth-test-k${tag}`); } catch (e) { process.stderr.write(`cri bench: cgroup cleanup: ${e.message}\n`); }
    fs.rmSync(base, { recursive: true, force: true });
  }
  const load1 = os.loadavg();
  notes.push(`Machine load average (1 min) at the start and end of this run: ${load0[0].toFixed(1)} and ${load1[0].toFixed(1)} on ${os.cpus().length} CPUs.`);
  return writeResult('cri', 'CRI: pod up and teardown through crictl, berth vs containerd (issue 15)', rows, notes);
}

module.exports = { run };
