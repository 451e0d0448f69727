// The tar reader against GNU tar's own archives (gnu and posix formats, long
// names and link targets, xattrs) fed in awkward chunk sizes, and against
// hand-made edge cases (base-256 numbers, global PAX headers, corruption).
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TarReader, type TarHeader } from '@berth/tar';
import { encodeHeader, END_OF_ARCHIVE } from '@berth/tar';
import { layerTar } from '../testing/tars';

interface Got { h: TarHeader; data: Buffer }

function read(tar: Buffer, chunk: number): Got[] {
  const out: Got[] = [];
  let cur: Got | null = null;
  const r = new TarReader({
    onEntry: (h) => { cur = { h, data: Buffer.alloc(0) }; },
    onData: (c, off) => {
      const need = off + c.length;
      if (cur!.data.length < need) cur!.data = Buffer.concat([cur!.data, Buffer.alloc(need - cur!.data.length)]);
      c.copy(cur!.data, off);
    },
    onEntryEnd: () => { out.push(cur!); cur = null; },
  });
  for (let i = 0; i < tar.length; i += chunk) r.push(tar.subarray(i, i + chunk));
  r.end();
  return out;
}

describe('TarReader', () => {
  let dir = '';
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = ''; });

  for (const format of ['gnu', 'posix', 'ustar']) {
    it(`reads GNU tar's ${format} archives byte by byte and in odd chunks`, () => {
      dir = mkdtempSync(join(tmpdir(), 'berth-tar-'));
      const src = join(dir, 'src');
      const long = format === 'ustar' ? 'short' : 'l'.repeat(150);
      mkdirSync(join(src, 'a', long), { recursive: true });
      writeFileSync(join(src, 'a', long, 'f.txt'), 'hello '.repeat(1000));
      symlinkSync(format === 'ustar' ? 'f.txt' : `${'t'.repeat(140)}/f.txt`, join(src, 'a', long, 'link'));
      linkSync(join(src, 'a', long, 'f.txt'), join(src, 'a', 'hard'));
      execFileSync('tar', [`--format=${format}`, '--xattrs', '-C', src, '-cf', join(dir, 't.tar'), '.']);
      const tar = readFileSync(join(dir, 't.tar'));
      const listed = execFileSync('tar', ['-tf', join(dir, 't.tar')], { encoding: 'utf8' }).trim().split('\n');
      for (const chunk of [1, 511, 513, 4096, 1 << 20]) {
        const got = read(tar, chunk);
        expect(got.map((g) => g.h.name)).toEqual(listed);
        const f = got.find((g) => g.h.name.endsWith('f.txt'))!;
        expect(f.h.type).toBe('file');
        expect(f.data.toString()).toBe('hello '.repeat(1000));
        const l = got.find((g) => g.h.name.endsWith('/link'))!;
        expect(l.h.type).toBe('symlink');
        expect(l.h.linkname).toBe(format === 'ustar' ? 'f.txt' : `${'t'.repeat(140)}/f.txt`);
        const h = got.find((g) => g.h.type === 'hardlink')!;
        expect(h.h.linkname.endsWith('f.txt')).toBe(true);
      }
    });
  }

  it('decodes PAX ns mtimes, big ids and binary xattrs, and global PAX headers', () => {
    const cap = Buffer.from([1, 0, 0, 2, 0xff, 0, 0x0a, 0]);
    const tar = layerTar([{ name: 'x', content: 'x', uid: 5_000_000, gid: 3_000_000, mtimeNs: 1_700_000_000_000_000_001n, xattrs: { 'security.capability': cap } }]);
    const [x] = read(tar, 100);
    expect(x!.h).toMatchObject({ name: 'x', uid: 5_000_000, gid: 3_000_000, mtimeNs: 1_700_000_000_000_000_001n });
    expect(x!.h.xattrs.get('security.capability')).toEqual(cap);
    // A global header applies to every following entry.
    const g = encodeHeader({ name: 'g', type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtimeNs: 0n, xattrs: new Map([['user.g', Buffer.from('1')]]) });
    const glob = Buffer.from(g);
    glob[156] = 'g'.charCodeAt(0);
    // recompute the checksum of the first (PAX) block after changing its type
    glob.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += glob[i]!;
    glob.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const paxLen = glob.length - 512;
    const withGlobal = Buffer.concat([glob.subarray(0, paxLen), layerTar([{ name: 'a', content: 'a' }, { name: 'b', content: 'b' }])]);
    const got = read(withGlobal, 7);
    expect(got.map((e) => [e.h.name, e.h.xattrs.get('user.g')?.toString()])).toEqual([['a', '1'], ['b', '1']]);
  });

  it('reads GNU base-256 numbers', () => {
    const tar = layerTar([{ name: 'big-uid', content: 'x' }]);
    // uid field as base-256: 0x80 then the value big-endian.
    tar.fill(0, 108, 116);
    tar[108] = 0x80;
    tar.writeUInt32BE(4_000_000_000, 112);
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(read(tar, 512)[0]!.h.uid).toBe(4_000_000_000);
  });

  it('rejects corruption, truncation and entry types a layer cannot hold', () => {
    const tar = layerTar([{ name: 'f', content: 'x'.repeat(2000) }]);
    const bad = Buffer.from(tar);
    bad[10] = bad[10]! ^ 0xff;
    expect(() => read(bad, 512)).toThrow(expect.objectContaining({ code: 'DataLoss' }));
    expect(() => read(tar.subarray(0, 1024), 512)).toThrow(expect.objectContaining({ code: 'DataLoss' }));
    const vol = Buffer.from(tar);
    vol[156] = 'V'.charCodeAt(0);
    vol.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += vol[i]!;
    vol.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(() => read(vol, 512)).toThrow(expect.objectContaining({ code: 'InvalidArgument', field: 'f' }));
    // An archive without the end marker but with whole entries is accepted.
    expect(read(tar.subarray(0, tar.length - END_OF_ARCHIVE.length), 512)).toHaveLength(1);
  });
});
