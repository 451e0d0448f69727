#!/usr/bin/env node
// Network setup latency: berth's NetworkManager attach/detach (per datapath),
// the CNI bridge plugin invoked directly, and podman run with and without a
// network, side by side in one run. Prints JSON to stdout.
//   node bench/networks/bench.js [--n 100] [--podman-n 15]
// Needs root, the build of libs/networks (npx tsc -b libs/networks), podman.
// Everything it creates is named bt-*/BERTH-B* and removed at the end; podman
// runs with its own --root/--runroot under a temp dir, deleted afterwards.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { stats } = require('../lib.js');
const { NetworkManager, removeIdleSharedChains } = require('../../libs/networks/dist/index.js');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--n', 100);
const PODMAN_N = arg('--podman-n', 15);
const tag = crypto.randomBytes(3).toString('hex');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-net-'));
const ns = `bt-bn-${tag}`;
const round = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 100) / 100]));

function run(file, args, input, env) {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b) => { out += b; });
    c.stderr.on('data', (b) => { err += b; });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} ${args.join(' ')}: exit ${code}: ${err || out}`))));
    c.stdin.end(input ?? '');
  });
}

async function benchBerth(datapath, octet) {
  const m = new NetworkManager({
    stateDir: path.join(dir, `state-${datapath}`), cniCacheDir: path.join(dir, `cache-${datapath}`),
    cniConfigDir: path.join(dir, 'conf'), datapath,
    defaultNetwork: { bridge: `bt-bd${tag}`, subnet: `10.213.${octet}.0/24` },
    bridgePrefix: `btb${tag.slice(0, 4)}-`, chainPrefix: `BERTH-B${tag}`, dnsUpstreams: [],
  });
  await m.start();
  try {
    await m.createNetwork('benchnet', { subnet: `10.213.${octet + 1}.0/24` });
    const out = {};
    for (const [label, network, ports] of [['default bridge', 'bridge', []], ['user-defined (DNS)', 'benchnet', []], ['default bridge, 1 published port', 'bridge', ['80']]]) {
      const attach = [];
      const detach = [];
      for (let i = 0; i < N + 5; i++) {
        let t = performance.now();
        await m.attach(`b${i}`, `/run/netns/${ns}`, network, { name: `b${i}`, ports });
        const a = performance.now() - t;
        t = performance.now();
        await m.detach(`b${i}`);
        const d = performance.now() - t;
        if (i >= 5) { attach.push(a); detach.push(d); } // 5 warm-up rounds
      }
      out[label] = { attach_ms: round(stats(attach)), detach_ms: round(stats(detach)), attach_plus_detach_p50_ms: round({ v: stats(attach.map((a, i) => a + detach[i])).p50 }).v };
    }
    return out;
  } finally {
    await m.purge();
    await m.close();
  }
}

async function benchCniDirect(octet) {
  const conf = JSON.stringify({
    cniVersion: '1.0.0', name: `bench${tag}`, type: 'bridge', bridge: `bt-bc${tag}`, isGateway: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: `10.213.${octet}.0/24` }]], dataDir: path.join(dir, 'ipam-direct') },
  });
  const add = [];
  const del = [];
  const env = (cmd, i) => ({ PATH: process.env.PATH, CNI_COMMAND: cmd, CNI_CONTAINERID: `d${i}`, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' });
  try {
    for (let i = 0; i < N + 5; i++) {
      let t = performance.now();
      await run('/usr/lib/cni/bridge', [], conf, env('ADD', i));
      const a = performance.now() - t;
      t = performance.now();
      await run('/usr/lib/cni/bridge', [], conf, env('DEL', i));
      const d = performance.now() - t;
      if (i >= 5) { add.push(a); del.push(d); }
    }
  } finally {
    try { execFileSync('ip', ['link', 'del', `bt-bc${tag}`], { stdio: 'ignore' }); } catch { /* gone */ }
  }
  return { add_ms: round(stats(add)), del_ms: round(stats(del)) };
}

async function benchPodman() {
  const root = path.join(dir, 'podman');
  // Own storage (vfs: no overlay mounts to leak), runc with cgroupfs (crun
  // refuses this host's hybrid cgroup layout), and rlimits within the host's
  // hard limits (the VM's root cannot raise them).
  const base = ['--root', path.join(root, 'root'), '--runroot', path.join(root, 'run'), '--storage-driver', 'vfs',
    '--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.symlinkSync('busybox', path.join(rootfs, 'bin', 'true'));
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  const image = `localhost/berth-bench-busybox:${tag}`;
  await run('podman', [...base, 'import', path.join(dir, 'rootfs.tar'), image]);
  const time = async (extra) => {
    const v = [];
    for (let i = 0; i < PODMAN_N + 2; i++) {
      const t = performance.now();
      await run('podman', [...base, 'run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', ...extra, image, '/bin/true']);
      if (i >= 2) v.push(performance.now() - t);
    }
    return stats(v);
  };
  try {
    const none = await time(['--network', 'none']);
    const bridge = await time([]);
    return {
      run_network_none_ms: round(none), run_default_network_ms: round(bridge),
      network_overhead_p50_ms: Math.round((bridge.p50 - none.p50) * 100) / 100,
    };
  } finally {
    await run('podman', [...base, 'rmi', '-f', image]).catch(() => undefined);
    await run('podman', [...base, 'system', 'reset', '-f']).catch(() => undefined);
    // netavark leaves its shared chains behind like portmap does; drop them if
    // no container (of any podman) still has rules in them.
    await removeIdleSharedChains('filter', ['NETAVARK_FORWARD'], 'NETAVARK_FORWARD');
    await removeIdleSharedChains('nat', ['NETAVARK-HOSTPORT-DNAT', 'NETAVARK-HOSTPORT-MASQ', 'NETAVARK-HOSTPORT-SETMARK'], 'NETAVARK-HOSTPORT-DNAT');
  }
}

async function main() {
  execFileSync('ip', ['netns', 'add', ns]);
  const result = { suite: 'networks', date: new Date().toISOString(), kernel: os.release(), cpus: os.cpus().length, n: N, podman_n: PODMAN_N };
  try {
    const datapaths = process.argv.includes('--cni-only') ? ['cni'] : ['native', 'cni'];
    result.berth = {};
    let octet = 200;
    for (const dp of datapaths) { result.berth[dp] = await benchBerth(dp, octet); octet += 2; }
    result.cni_bridge_plugin_direct = await benchCniDirect(octet);
    if (!process.argv.includes('--no-podman')) result.podman = await benchPodman();
    const nat = result.berth.native ?? result.berth.cni;
    result.summary = {
      target_ms: 15,
      berth_attach_p50_ms: nat['default bridge'].attach_ms.p50,
      berth_attach_p99_ms: nat['default bridge'].attach_ms.p99,
      cni_bridge_add_p50_ms: result.cni_bridge_plugin_direct.add_ms.p50,
      podman_network_overhead_p50_ms: result.podman?.network_overhead_p50_ms,
    };
  } finally {
    try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
