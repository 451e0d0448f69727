// Deterministic layer fixtures for the layers benchmarks, written with the
// layers lib's own tar encoder (libs/layers/dist) and compressed with gzip(1)
// at its default level, as image builders do.
//  - smallFilesLayer: ~100 MB of gzip holding tens of thousands of small
//    text-like files (0-8 KiB) in a few hundred dirs: the unpack stress case.
//  - imageLayers: 5 layers of ~40 MB each (files from 1 KiB to 4 MiB).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { encodeHeader, END_OF_ARCHIVE } = require('../../libs/layers/dist/index.js');

/** xorshift32: same bytes on every run and machine. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

const ALPHA = Buffer.from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n{}();=_-.,:/');

/** Text-like content that gzip compresses roughly 1.3:1 (like source/binaries mixes). */
function content(r, n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = ALPHA[r() % ALPHA.length];
  return b;
}

function pad(n) { const r = n % 512; return r ? Buffer.alloc(512 - r) : null; }

function writeTar(file, entries) {
  const fd = fs.openSync(file, 'w');
  try {
    for (const e of entries) {
      fs.writeSync(fd, encodeHeader(e.h));
      if (e.data) { fs.writeSync(fd, e.data); const p = pad(e.data.length); if (p) fs.writeSync(fd, p); }
    }
    fs.writeSync(fd, END_OF_ARCHIVE);
  } finally {
    fs.closeSync(fd);
  }
}

function* smallFileEntries(targetBytes, seed) {
  const r = rng(seed);
  let total = 0;
  let d = 0;
  const mt = 1_700_000_000_000_000_000n;
  while (total < targetBytes) {
    const dir = `usr/share/pkg${String(d).padStart(4, '0')}`;
    if (d === 0) { yield { h: { name: 'usr/', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeNs: mt } }; yield { h: { name: 'usr/share/', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeNs: mt } }; }
    yield { h: { name: `${dir}/`, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeNs: mt } };
    for (let f = 0; f < 100 && total < targetBytes; f++) {
      const n = r() % 8192;
      const data = content(r, n);
      total += n + 512;
      yield { h: { name: `${dir}/file${f}.txt`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: n, mtimeNs: mt }, data };
    }
    d++;
  }
}

function gzipFile(src, dst) {
  execFileSync('sh', ['-c', `gzip -c -6 < '${src}' > '${dst}'`]);
}

/** Builds (once, cached in dir) the small-files layer; returns { tar, gz, files }. */
function smallFilesLayer(dir, targetGzBytes = 100 << 20) {
  const tar = path.join(dir, 'small.tar');
  const gz = path.join(dir, 'small.tar.gz');
  if (!fs.existsSync(gz)) {
    // Text of this alphabet gzips to ~0.71 of its size; aim the tar at the target.
    const entries = [...smallFileEntries(Math.round(targetGzBytes / 0.71), 42)];
    writeTar(tar, entries);
    gzipFile(tar, gz);
  }
  return { tar, gz };
}

/** Builds 5 layers of ~sizeEach bytes; returns [{ tar, gz }]. */
function imageLayers(dir, count = 5, sizeEach = 40 << 20) {
  const out = [];
  for (let l = 0; l < count; l++) {
    const tar = path.join(dir, `img${l}.tar`);
    const gz = `${tar}.gz`;
    if (!fs.existsSync(gz)) {
      const r = rng(1000 + l);
      const entries = [];
      const mt = 1_700_000_000_000_000_000n;
      entries.push({ h: { name: `layer${l}/`, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeNs: mt } });
      let total = 0;
      for (let i = 0; total < sizeEach; i++) {
        if (i % 50 === 0) entries.push({ h: { name: `layer${l}/d${i / 50}/`, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeNs: mt } });
        const big = r() % 20 === 0;
        const n = big ? (1 << 20) + (r() % (3 << 20)) : 1024 + (r() % 32768);
        const data = content(r, n);
        total += n;
        entries.push({ h: { name: `layer${l}/d${Math.floor(i / 50)}/f${i}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: n, mtimeNs: mt }, data });
      }
      writeTar(tar, entries);
      gzipFile(tar, gz);
    }
    out.push({ tar, gz });
  }
  return out;
}

module.exports = { smallFilesLayer, imageLayers };
