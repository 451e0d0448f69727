#!/usr/bin/env node
// Layers service benchmarks; prints one JSON document to stdout.
//   node bench/layers/run.js [--runs N] [--fs tmpfs|disk|both] [--only apply|prepare] [--keep]
// Needs root and the build (cd libs/layers && npx tsc -b).
//  1. applyLayer throughput on a ~100 MB gzip layer of many small files,
//     side by side with GNU `tar -xzf` and `umoci unpack` (on an OCI layout
//     built here around the same blob), warm page cache, median of N runs.
//  2. preparing a writable root for an image of 5 layers / 200 MB:
//     overlay vs copy driver, and the ratio.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { LayerStore, MediaType } = require('../../libs/layers/dist/index.js');
const { mount, umount, MNT } = require('../../libs/sys/dist/index.js');
const { smallFilesLayer, imageLayers } = require('./fixtures');
const { machine, stats } = require('../lib.js');

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1]) || 3;
const CACHE = path.join(os.tmpdir(), 'berth-bench-layers-fixtures');

function sha256File(f) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(f, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let n;
  while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
const log = (m) => process.stderr.write(`${m}\n`);

/** Flush dirty pages so each contestant starts from the same writeback state. */
function settle() {
  execFileSync('sync');
}

/** Where unpack targets go: os.tmpdir() (the disk) or a tmpfs mounted for the run. */
let BASE = os.tmpdir();

function freshDir(name) {
  return fs.mkdtempSync(path.join(BASE, `berth-bench-${name}-`));
}

/** Runs fn with BASE on a fresh tmpfs (so the numbers measure unpacking, not the disk). */
async function onTmpfs(fn) {
  const mp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-tmpfs-'));
  mount('berth-bench', mp, 'tmpfs', 0, 'size=4g,mode=0755');
  const prev = BASE;
  BASE = mp;
  try {
    return await fn();
  } finally {
    BASE = prev;
    umount(mp, MNT.DETACH);
    fs.rmdirSync(mp);
  }
}

function rm(d) {
  fs.rmSync(d, { recursive: true, force: true });
}

/** An OCI image layout holding one image whose single layer is `gz`. */
function ociLayout(dir, gz, diffId) {
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const layerDigest = sha256File(gz);
  fs.linkSync(gz, path.join(blobs, layerDigest));
  const put = (obj) => {
    const b = Buffer.from(JSON.stringify(obj));
    const d = crypto.createHash('sha256').update(b).digest('hex');
    fs.writeFileSync(path.join(blobs, d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const config = put({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] } });
  const manifest = put({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: MediaType.OciLayerGzip, digest: `sha256:${layerDigest}`, size: fs.statSync(gz).size }],
  });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
  }));
}

async function benchApply(where) {
  const { tar, gz } = smallFilesLayer(CACHE);
  const gzBytes = fs.statSync(gz).size;
  const tarBytes = fs.statSync(tar).size;
  const diffId = sha256File(tar);
  const files = Number(execFileSync('sh', ['-c', `tar -tzf '${gz}' | wc -l`], { encoding: 'utf8' }).trim());
  log(`apply (${where}): ${(gzBytes / 2 ** 20).toFixed(1)} MiB gzip, ${(tarBytes / 2 ** 20).toFixed(1)} MiB tar, ${files} entries`);
  const layout = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-oci-'));
  ociLayout(layout, gz, diffId);
  // Warm the page cache for the blob.
  sha256File(gz);
  const t = { berth: [], berthCopy: [], gnuTar: [], umoci: [] };
  const contestants = {
    berth: () => applyOnce('overlay'),
    berthCopy: () => applyOnce('copy'),
    gnuTar: async () => {
      const d = freshDir('tar');
      settle();
      const t0 = now();
      execFileSync('tar', ['-xzf', gz, '-C', d]);
      const ms = now() - t0;
      rm(d);
      return ms;
    },
    umoci: async () => {
      const d = freshDir('umoci');
      settle();
      const t0 = now();
      execFileSync('umoci', ['unpack', '--image', `${layout}:bench`, `${d}/bundle`], { stdio: 'ignore' });
      const ms = now() - t0;
      rm(d);
      return ms;
    },
  };
  async function applyOnce(driver) {
    const d = freshDir('apply');
    const store = LayerStore.open({ root: `${d}/root`, driver });
    settle();
    const t0 = now();
    const r = await store.applyLayer(fs.createReadStream(gz, { highWaterMark: 1 << 20 }), { mediaType: MediaType.OciLayerGzip, expectedDiffId: `sha256:${diffId}` });
    const ms = now() - t0;
    if (r.diffId !== `sha256:${diffId}`) throw new Error('diffId mismatch');
    store.close();
    rm(d);
    return ms;
  }
  const names = Object.keys(contestants);
  for (let i = 0; i < RUNS; i++) {
    // Rotate the order each run so no contestant always follows the same one.
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length];
      t[name].push(await contestants[name]());
    }
    log(`apply run ${i + 1}: berth ${t.berth[i].toFixed(0)} ms, berth(copy) ${t.berthCopy[i].toFixed(0)} ms, tar ${t.gnuTar[i].toFixed(0)} ms, umoci ${t.umoci[i].toFixed(0)} ms`);
  }
  rm(layout);
  const mbps = (ms) => +(gzBytes / 2 ** 20 / (ms / 1000)).toFixed(1);
  const s = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, stats(v)]));
  return {
    target: where === 'tmpfs' ? 'tmpfs (CPU-bound: decompress + parse + syscalls)' : `${os.tmpdir()} (disk; each run after sync)`,
    blob: { gzipMiB: +(gzBytes / 2 ** 20).toFixed(1), tarMiB: +(tarBytes / 2 ** 20).toFixed(1), entries: files },
    runs: RUNS,
    medianMs: { berthOverlay: +s.berth.p50.toFixed(0), berthCopy: +s.berthCopy.p50.toFixed(0), gnuTar: +s.gnuTar.p50.toFixed(0), umoci: +s.umoci.p50.toFixed(0) },
    gzipMiBPerS: { berthOverlay: mbps(s.berth.p50), berthCopy: mbps(s.berthCopy.p50), gnuTar: mbps(s.gnuTar.p50), umoci: mbps(s.umoci.p50) },
    // Best of N too: on a shared machine the minimum is the least noisy estimate.
    minMs: { berthOverlay: +s.berth.min.toFixed(0), berthCopy: +s.berthCopy.min.toFixed(0), gnuTar: +s.gnuTar.min.toFixed(0), umoci: +s.umoci.min.toFixed(0) },
    speedupVsGnuTar: +(s.gnuTar.p50 / s.berth.p50).toFixed(2),
    speedupVsGnuTarBestOf: +(s.gnuTar.min / s.berth.min).toFixed(2),
    speedupVsUmoci: +(s.umoci.p50 / s.berth.p50).toFixed(2),
    target: 'berth >= GNU tar speed (speedupVsGnuTar >= 1)',
    met: s.berth.p50 <= s.gnuTar.p50,
    samplesMs: t,
  };
}

async function benchPrepare() {
  const layers = imageLayers(CACHE);
  const total = layers.reduce((a, l) => a + fs.statSync(l.tar).size, 0);
  log(`prepare: 5 layers, ${(total / 2 ** 20).toFixed(0)} MiB uncompressed`);
  const out = {};
  for (const driver of ['overlay', 'copy']) {
    const d = freshDir('prepare');
    const store = LayerStore.open({ root: `${d}/root`, driver });
    let parent;
    for (const l of layers) {
      const r = await store.applyLayer(fs.createReadStream(l.gz), { mediaType: MediaType.OciLayerGzip, parentChainId: parent });
      parent = r.chainId;
    }
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      settle();
      const t0 = now();
      store.prepare(`ctr${i}`, parent);
      const target = store.mount(`ctr${i}`);
      times.push(now() - t0);
      store.unmount(`ctr${i}`);
      void target;
    }
    out[driver] = { medianMs: +stats(times).p50.toFixed(2), samplesMs: times.map((x) => +x.toFixed(2)) };
    store.close();
    rm(d);
  }
  return {
    image: { layers: layers.length, uncompressedMiB: +(total / 2 ** 20).toFixed(0) },
    what: 'prepare(key, top chain id) + mount(key): a writable root ready to use',
    overlayMs: out.overlay.medianMs,
    copyMs: out.copy.medianMs,
    copyOverOverlay: +(out.copy.medianMs / out.overlay.medianMs).toFixed(0),
    samples: out,
  };
}

async function main() {
  fs.mkdirSync(CACHE, { recursive: true });
  const fsArg = args.includes('--fs') ? args[args.indexOf('--fs') + 1] : 'both';
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : 'all';
  const result = { suite: 'layers', date: new Date().toISOString(), machine: machine(), loadavg: os.loadavg(), applyLayer: {} };
  if (only !== 'prepare') {
    if (fsArg === 'tmpfs' || fsArg === 'both') result.applyLayer.tmpfs = await onTmpfs(() => benchApply('tmpfs'));
    if (fsArg === 'disk' || fsArg === 'both') result.applyLayer.disk = await benchApply('disk');
  }
  if (only !== 'apply') result.prepare = await benchPrepare();
  result.loadavgAfter = os.loadavg();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!args.includes('--keep')) rm(CACHE);
}

main().catch((e) => { console.error(e); process.exit(1); });
