#!/usr/bin/env node
// Benchmark: pull + unpack of a ~100 MB multi-layer image from a local
// registry (docker-registry on 127.0.0.1), berth against `skopeo copy` to an
// OCI layout followed by `umoci unpack`, in the same run, alternating, each
// run into fresh directories. Prints JSON to stdout.
//
//   node bench/images/pull.js [--runs N] [--mb SIZE]
//
// Needs the build (cd libs/images && npx tsc -b) and root (umoci unpack,
// tar --same-owner). berth's side runs twice per round: with
// UnpackLayerApplier (GNU tar -x per layer into a staging dir, whiteouts
// merged by rename) and, when libs/layers is built, with @berth/layers'
// LayerStore (the layers service's snapshots) as the applier.
'use strict';
const fs = require('node:fs/promises');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { ImagesLocal, UnpackLayerApplier, chainIds } = require('../../libs/images/dist/index.js');
const { startRegistry, run, skopeoCopy } = require('../../libs/images/dist/testing/registry.js');
const { describeTree, buildImageFromDirs } = require('../../libs/images/dist/testing/build-image.js');

// The layers service's LayerStore, when built: the applier berth really uses.
let LayerStore;
try {
  ({ LayerStore } = require('../../libs/layers/dist/index.js'));
} catch {
  LayerStore = undefined;
}

/** LayerApplier over @berth/layers (its stat() throws NotFound for an unknown chain). */
function layerStoreApplier(store) {
  return {
    applyLayer: (stream, o) => store.applyLayer(stream, { mediaType: o.mediaType, expectedDiffId: o.expectedDiffId, ...(o.parentChainId ? { parentChainId: o.parentChainId } : {}) }),
    hasLayer: async (chainId) => {
      try {
        store.stat(chainId);
        return true;
      } catch {
        return false;
      }
    },
  };
}

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('--runs', 3);
const TOTAL_MB = arg('--mb', 100);
const LAYERS = 5;

/** Layer content: half incompressible (binaries, media), half text-like (compresses ~4x). */
async function makeLayerDir(dir, layer, mb) {
  await fs.mkdir(dir, { recursive: true });
  const words = ['container', 'image', 'layer', 'registry', 'digest', 'manifest', 'kernel', 'cgroup', 'namespace', 'overlay'];
  for (let i = 0; i < Math.round(mb / 2); i++) {
    await fs.writeFile(path.join(dir, `bin-${layer}-${i}.so`), crypto.randomBytes(1 << 20));
    const lines = [];
    let size = 0;
    while (size < 1 << 20) {
      const line = `${i} ${Array.from({ length: 8 }, () => words[crypto.randomInt(words.length)]).join(' ')} ${crypto.randomInt(1e9)}\n`;
      lines.push(line);
      size += line.length;
    }
    await fs.writeFile(path.join(dir, `doc-${layer}-${i}.txt`), lines.join(''));
  }
  for (let i = 0; i < 200; i++) await fs.writeFile(path.join(dir, `small-${i}.conf`), `key${i}=value${layer}\n`);
}

async function dirSize(d) {
  let total = 0;
  for (const e of await fs.readdir(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (e.isFile()) total += (await fs.stat(p)).size;
  }
  return total;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

async function main() {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-images-'));
  const reg = await startRegistry();
  try {
    // Build the image: one gzip layer per directory, made with GNU tar.
    // (umoci insert would do, but umoci 0.4 writes unterminated tars that
    // only Go's archive/tar and our tar -x applier accept.)
    const layout = path.join(work, 'src-layout');
    const dirs = [];
    for (let l = 0; l < LAYERS; l++) {
      const d = path.join(work, `layer-${l}`);
      await makeLayerDir(path.join(d, 'opt', `layer${l}`), l, TOTAL_MB / LAYERS);
      dirs.push(d);
    }
    await buildImageFromDirs(layout, 'bench', dirs);
    for (const d of dirs) await fs.rm(d, { recursive: true });
    const ref = `${reg.host}/bench/big:v1`;
    await skopeoCopy(`oci:${layout}:bench`, `docker://${ref}`);
    const compressed = await dirSize(path.join(reg.dataDir, 'docker/registry/v2/blobs'));

    const berth = [];
    const berthLayers = [];
    let layersDriver;
    let sameTreeLayers;
    const peer = [];
    const peerParts = [];
    let sameTree;
    let uncompressed = 0;
    for (let r = 0; r < RUNS; r++) {
      // berth: pull (parallel downloads, apply as each layer lands).
      const bdir = path.join(work, `berth-${r}`);
      const applier = new UnpackLayerApplier(path.join(bdir, 'layers'));
      const local = await ImagesLocal.open({ root: path.join(bdir, 'store'), layerApplier: applier, authConfigPath: path.join(bdir, 'auth.json') });
      let t0 = process.hrtime.bigint();
      await local.transfer.pull(ref);
      berth.push(seconds(t0));
      const info = await local.images.inspect(ref);
      const topChain = chainIds(info.config.rootfs.diff_ids).at(-1);
      const tree = applier.rootfsOf(topChain);
      local.close();

      // berth with @berth/layers (overlay or copy snapshots) as the applier.
      let layersTree;
      let layerStore;
      if (LayerStore) {
        layerStore = LayerStore.open({ root: path.join(bdir, 'layerstore') });
        layersDriver = layerStore.driverName;
        const local2 = await ImagesLocal.open({ root: path.join(bdir, 'store2'), layerApplier: layerStoreApplier(layerStore), authConfigPath: path.join(bdir, 'auth.json') });
        t0 = process.hrtime.bigint();
        await local2.transfer.pull(ref);
        berthLayers.push(seconds(t0));
        local2.close();
        if (r === 0) {
          layerStore.view('bench-view', topChain);
          layersTree = layerStore.mount('bench-view');
        }
      }

      // skopeo copy to an OCI layout, then umoci unpack.
      const pdir = path.join(work, `peer-${r}`);
      await fs.mkdir(pdir);
      t0 = process.hrtime.bigint();
      await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${path.join(pdir, 'layout')}:v1`]);
      const copied = seconds(t0);
      await run('umoci', ['unpack', '--image', `${path.join(pdir, 'layout')}:v1`, path.join(pdir, 'bundle')]);
      const total = seconds(t0);
      peer.push(total);
      peerParts.push({ skopeoCopy: copied, umociUnpack: total - copied });

      if (r === 0) {
        const [a, b] = await Promise.all([describeTree(tree), describeTree(path.join(pdir, 'bundle', 'rootfs'))]);
        sameTree = JSON.stringify(a) === JSON.stringify(b);
        uncompressed = await dirSize(tree);
        if (layersTree) {
          // Directory entries differ only in how the snapshot root itself is made; compare contents.
          const c = await describeTree(layersTree);
          sameTreeLayers = JSON.stringify(c) === JSON.stringify(b);
          layerStore.unmount('bench-view');
        }
      }
      layerStore?.close();
      await fs.rm(bdir, { recursive: true, force: true });
      await fs.rm(pdir, { recursive: true, force: true });
    }
    const out = {
      benchmark: 'images.pull_unpack',
      image: { layers: LAYERS, registryBytes: compressed, unpackedBytes: uncompressed },
      runs: RUNS,
      berthPullUnpackSeconds: berth.map((x) => +x.toFixed(3)),
      skopeoUmociSeconds: peer.map((x) => +x.toFixed(3)),
      skopeoUmociParts: peerParts.map((p) => ({ skopeoCopy: +p.skopeoCopy.toFixed(3), umociUnpack: +p.umociUnpack.toFixed(3) })),
      berthWithLayersServiceSeconds: berthLayers.map((x) => +x.toFixed(3)),
      layersDriver,
      medianBerth: +median(berth).toFixed(3),
      medianBerthWithLayersService: berthLayers.length ? +median(berthLayers).toFixed(3) : undefined,
      medianSkopeoUmoci: +median(peer).toFixed(3),
      speedup: +(median(peer) / median(berth)).toFixed(2),
      sameTree,
      sameTreeWithLayersService: sameTreeLayers,
      host: { cpus: os.cpus().length, node: process.version },
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } finally {
    await reg.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
