// Builds exact layer tars in memory for tests and benchmarks. Entries are
// written with berth's own encoder (PAX for long names, binary xattrs and
// nanosecond mtimes); malicious cases in the suite also use tar-stream's pack
// so the reader is checked against a second, independent encoder.
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { encodeHeader, padding, END_OF_ARCHIVE } from '@berth/tar';
import type { TarEntryType } from '@berth/tar';

export interface TestEntry {
  name: string;
  type?: TarEntryType;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (default 1700000000); fractional seconds allowed. */
  mtime?: number;
  /** Exact mtime in ns (overrides mtime). */
  mtimeNs?: bigint;
  linkname?: string;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Record<string, Buffer | string>;
}

export const MTIME = 1_700_000_000;

export function layerTar(entries: TestEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'dir' : 'file');
    const data = e.content === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
    const mtime = e.mtime ?? MTIME;
    parts.push(encodeHeader({
      name: e.name, type, mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0,
      size: type === 'file' ? data.length : 0,
      mtimeNs: e.mtimeNs ?? BigInt(Math.round(mtime * 1e3)) * 1_000_000n,
      linkname: e.linkname, devMajor: e.devMajor, devMinor: e.devMinor,
      xattrs: e.xattrs ? new Map(Object.entries(e.xattrs).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)])) : undefined,
    }));
    if (type === 'file' && data.length) {
      parts.push(data);
      const p = padding(data.length);
      if (p) parts.push(Buffer.alloc(p));
    }
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export function gzip(b: Buffer): Buffer {
  return gzipSync(b);
}

/** zstd-compresses with Debian's zstd (the same tool the layers service decompresses with). */
export function zstd(b: Buffer): Buffer {
  const r = spawnSync('zstd', ['-c', '-q', '-3'], { input: b, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** A Readable that yields `b` in small chunks (exercises reassembly across chunk borders). */
export function streamOf(b: Buffer, chunk = 7919): Readable {
  let pos = 0;
  return new Readable({
    read() {
      if (pos >= b.length) { this.push(null); return; }
      this.push(b.subarray(pos, pos + chunk));
      pos += chunk;
    },
  });
}

/** security.capability value granting CAP_NET_BIND_SERVICE (VFS_CAP_REVISION_2). */
export const CAP_NET_BIND_SERVICE = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** A base layer with one of every entry type and metadata kind a layer can carry. */
export function richBase(): TestEntry[] {
  return [
    { name: './', type: 'dir', mode: 0o755 },
    { name: 'bin/', mode: 0o755 },
    { name: 'bin/ping', content: 'ELF-ish', mode: 0o4755, xattrs: { 'security.capability': CAP_NET_BIND_SERVICE } },
    { name: 'bin/sh', content: '#!/bin/true\n', mode: 0o755 },
    { name: 'bin/ash', type: 'hardlink', linkname: 'bin/sh' },
    { name: 'etc/', mode: 0o755, mtime: MTIME + 5 },
    { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644 },
    { name: 'etc/shadow', content: 'root:*::0:::::\n', mode: 0o640, gid: 42 },
    { name: 'etc/app.conf', content: 'a=1\n', uid: 1000, gid: 1000, mtimeNs: 1_700_000_000_123_456_789n, xattrs: { 'user.origin': 'test' } },
    { name: 'etc/localtime', type: 'symlink', linkname: '/usr/share/zoneinfo/UTC', uid: 7, gid: 8 },
    { name: 'tmp/', mode: 0o1777 },
    { name: 'dev/', mode: 0o755 },
    { name: 'dev/null', type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 },
    { name: 'dev/loop9', type: 'block', devMajor: 7, devMinor: 9, mode: 0o660, gid: 6 },
    { name: 'run/', mode: 0o755 },
    { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    { name: 'srv/', mode: 0o2775, uid: 33, gid: 33 },
    { name: 'srv/data/', mode: 0o755 },
    { name: 'srv/data/a', content: 'A' },
    { name: 'srv/data/b', content: 'B' },
    { name: 'srv/keep', content: 'keep' },
    { name: `deep/${'d'.repeat(120)}/${'e'.repeat(120)}/file-with-a-long-path`, content: 'long' },
    { name: 'usr/', mode: 0o755 },
    { name: 'usr/lib/', mode: 0o755 },
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
  ];
}
