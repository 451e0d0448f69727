// docker cp's building blocks: path rules, in-root resolution (confinement),
// and pack -> extract round trips, on real temp trees.
import { afterEach, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, rejection } from '@berth/errors';
import { lgetxattr, lsetxattr } from '@berth/sys';
import { RootView } from './root-view';
import { packTree } from './pack';
import { extractTar } from './extract';
import { encodeHeader, END_OF_ARCHIVE, padding } from './writer';
import { prepareArchiveCopy, splitPathDirEntry, containerAbsPath, rebaseEntryName, rebaseForLink } from './copy-rules';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-cp-'));
  dirs.push(d);
  return d;
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

async function* chunksOf(...bufs: Buffer[]): AsyncGenerator<Buffer> { for (const b of bufs) yield b; }
function fileEntry(name: string, body: string): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: b.length, mtimeNs: 0n }), b, Buffer.alloc(padding(b.length))]);
}
const linkEntry = (name: string, target: string, type: 'symlink' | 'hardlink' = 'symlink'): Buffer =>
  encodeHeader({ name, type, mode: 0o777, uid: 0, gid: 0, size: 0, mtimeNs: 0n, linkname: target });

describe('copy rules (moby pkg/archive)', () => {
  it('splits "dir/." into the dir and "." and keeps trailing forms absolute', () => {
    expect(splitPathDirEntry('/a/b/.')).toEqual({ dir: '/a/b', base: '.' });
    expect(splitPathDirEntry('/a/b/')).toEqual({ dir: '/a', base: 'b' });
    expect(splitPathDirEntry('file')).toEqual({ dir: '.', base: 'file' });
    expect(splitPathDirEntry('/')).toEqual({ dir: '/', base: '/' });
    expect(containerAbsPath('etc/')).toBe('/etc/');
    expect(containerAbsPath('etc/.')).toBe('/etc/.');
    expect(containerAbsPath('../../x')).toBe('/x');
  });

  it('plans like PrepareArchiveCopy', () => {
    const file = { path: '/src/f.txt', exists: true, isDir: false, rebaseName: '' };
    const dir = { path: '/src/d', exists: true, isDir: true, rebaseName: '' };
    const contents = { path: '/src/d/.', exists: true, isDir: true, rebaseName: '' };
    // into an existing directory: as is
    expect(prepareArchiveCopy(file, { path: '/dst', exists: true, isDir: true, rebaseName: '' })).toEqual({ dstDir: '/dst', rebase: null });
    // onto a new name: parent + rename
    expect(prepareArchiveCopy(file, { path: '/dst/new.txt', exists: false, isDir: false, rebaseName: '' })).toEqual({ dstDir: '/dst', rebase: { from: 'f.txt', to: 'new.txt' } });
    expect(prepareArchiveCopy(dir, { path: '/dst/nd', exists: false, isDir: false, rebaseName: '' })).toEqual({ dstDir: '/dst', rebase: { from: 'd', to: 'nd' } });
    expect(prepareArchiveCopy(contents, { path: '/dst/nd', exists: false, isDir: false, rebaseName: '' })).toEqual({ dstDir: '/dst', rebase: { from: '.', to: 'nd' } });
    // file over file: renamed to the destination's name
    expect(prepareArchiveCopy(file, { path: '/dst/old', exists: true, isDir: false, rebaseName: '' }).rebase).toEqual({ from: 'f.txt', to: 'old' });
    // errors
    expect(() => prepareArchiveCopy(dir, { path: '/dst/old', exists: true, isDir: false, rebaseName: '' })).toThrow(/cannot copy a directory to the existing file/);
    expect(() => prepareArchiveCopy(file, { path: '/dst/missing/', exists: false, isDir: false, rebaseName: '' })).toThrow(/no such directory/);
  });

  it('rebases only entries under the old base', () => {
    expect(rebaseEntryName('./a/b', '.', 'x')).toBe('x/a/b');
    expect(rebaseEntryName('./', '.', 'x')).toBe('x/');
    expect(rebaseEntryName('d/f', 'd', 'nd')).toBe('nd/f');
    expect(rebaseEntryName('dd/f', 'd', 'nd')).toBe('dd/f');
    expect(rebaseForLink('/l', '/data/real')).toEqual({ path: '/data/real', rebaseName: 'l' });
  });
});

describe('RootView.resolve: symlinks stay in the root', () => {
  function rootWithLinks(): string {
    const r = tmp();
    mkdirSync(join(r, 'etc'));
    writeFileSync(join(r, 'etc/passwd'), 'inside\n');
    symlinkSync('/etc', join(r, 'abs'));              // absolute: the root's /etc
    symlinkSync('../../../../etc', join(r, 'etc/up')); // climbing: clamps at the root
    symlinkSync('loop2', join(r, 'loop1'));
    symlinkSync('loop1', join(r, 'loop2'));
    symlinkSync('/etc/passwd', join(r, 'pw'));
    return r;
  }

  it('resolves absolute and .. links inside the root, never to the host', () => {
    const r = rootWithLinks();
    const v = new RootView(r);
    expect(v.resolve('/abs/passwd', true)).toBe('/etc/passwd');
    expect(v.resolve('/etc/up/passwd', true)).toBe('/etc/passwd');
    expect(v.resolve('/../../../etc/passwd', true)).toBe('/etc/passwd');
    expect(readFileSync(v.host(v.resolve('/pw', true)), 'utf8')).toBe('inside\n');
    // the last component is kept as a link unless followed or asserted a directory
    expect(v.resolve('/abs', false)).toBe('/abs');
    expect(v.resolve('/abs/', false)).toBe('/etc');
    expect(v.resolve('/abs/.', false)).toBe('/etc');
  });

  it('refuses link loops with InvalidArgument', () => {
    const v = new RootView(rootWithLinks());
    let err: unknown;
    try { v.resolve('/loop1/x', true); } catch (e) { err = e; }
    expect((err as { code: string }).code).toBe(ErrorCode.InvalidArgument);
    expect((err as Error).message).toMatch(/too many levels of symbolic links/);
  });

  it('maps mounted trees and resolves links inside them against the view root', () => {
    const r = rootWithLinks();
    const vol = tmp();
    symlinkSync('/etc/passwd', join(vol, 'pw'));
    writeFileSync(join(vol, 'data'), 'vol\n');
    const v = new RootView(r, [{ target: '/data', source: vol }]);
    expect(v.host('/data/data')).toBe(join(vol, 'data'));
    expect(v.resolve('/data/pw', true)).toBe('/etc/passwd');
    expect(v.host(v.resolve('/data/pw', true))).toBe(join(r, 'etc/passwd'));
  });
});

describe('RootView.at: a swap after the check still resolves in the root', () => {
  it('a directory replaced by a link to the host after resolve() leads into the root, not out', () => {
    const root = tmp();
    const outside = tmp();
    mkdirSync(join(root, 'a'));
    const v = new RootView(root);
    const p = v.resolve('/a/f', false);
    expect(p).toBe('/a/f');
    // the race: "a" becomes a symlink to a host directory between the check and the write
    rmSync(join(root, 'a'), { recursive: true });
    symlinkSync(outside, join(root, 'a'));
    mkdirSync(join(root, outside), { recursive: true });
    const pin = v.at(p);
    try {
      writeFileSync(pin.path, 'x', { flag: 'wx' });
    } finally {
      pin.close();
    }
    expect(existsSync(join(outside, 'f'))).toBe(false);
    expect(readFileSync(join(root, outside, 'f'), 'utf8')).toBe('x');
  });

  it('a link to /proc/self/root resolves in the root (missing there), never to the root of the host', () => {
    const root = tmp();
    symlinkSync('/proc/self/root', join(root, 'magic'));
    const v = new RootView(root);
    let err: unknown;
    try { v.at('/magic/etc').close(); } catch (e) { err = e; }
    expect(err).toBeDefined();
  });
});

describe('pack and extract', () => {
  it('round-trips a tree (files, dirs, symlinks, hardlinks, modes, times)', async () => {
    const src = tmp();
    mkdirSync(join(src, 'd/sub'), { recursive: true });
    writeFileSync(join(src, 'd/a.txt'), 'hello');
    writeFileSync(join(src, 'd/sub/big'), Buffer.alloc(3 * 1024 * 1024 + 7, 7), { mode: 0o750 });
    linkSync(join(src, 'd/a.txt'), join(src, 'd/hard'));
    symlinkSync('/nowhere', join(src, 'd/ln'));
    const dst = tmp();
    const r = await extractTar(new RootView(dst), packTree(new RootView(src), '/d', 'copy'), { dstDir: '/', chown: null, noOverwriteDirNonDir: true });
    expect(r.entries).toBe(6);
    expect(readFileSync(join(dst, 'copy/a.txt'), 'utf8')).toBe('hello');
    expect(statSync(join(dst, 'copy/sub/big')).size).toBe(3 * 1024 * 1024 + 7);
    expect(statSync(join(dst, 'copy/sub/big')).mode & 0o777).toBe(0o750);
    expect(statSync(join(dst, 'copy/hard')).ino).toBe(statSync(join(dst, 'copy/a.txt')).ino);
    expect(readlinkSync(join(dst, 'copy/ln'))).toBe('/nowhere');
    expect(Math.round(statSync(join(dst, 'copy/sub')).mtimeMs)).toBe(Math.round(statSync(join(src, 'd/sub')).mtimeMs));
  });

  it('carries file capabilities (security.capability) through pack and extract', async () => {
    const src = tmp();
    writeFileSync(join(src, 'ping'), 'bin');
    // VFS_CAP_REVISION_2 with cap_net_raw (bit 13) permitted and effective, as setcap cap_net_raw+ep writes it
    const cap = Buffer.alloc(20);
    cap.writeUInt32LE(0x02000001, 0);
    cap.writeUInt32LE(1 << 13, 4);
    lsetxattr(join(src, 'ping'), 'security.capability', cap);
    const dst = tmp();
    await extractTar(new RootView(dst), packTree(new RootView(src), '/ping', 'ping'), { dstDir: '/', chown: { uid: 0, gid: 0 }, noOverwriteDirNonDir: true });
    expect(lgetxattr(join(dst, 'ping'), 'security.capability')).toEqual(cap);
  });

  it('chowns to the given owner unless the archive ids are kept', async () => {
    const dst = tmp();
    const tar = Buffer.concat([encodeHeader({ name: 'f', type: 'file', mode: 0o600, uid: 1234, gid: 4321, size: 0, mtimeNs: 0n }), END_OF_ARCHIVE]);
    await extractTar(new RootView(dst), chunksOf(tar), { dstDir: '/', chown: { uid: 0, gid: 0 }, noOverwriteDirNonDir: true });
    expect(lstatSync(join(dst, 'f')).uid).toBe(0);
    rmSync(join(dst, 'f'));
    await extractTar(new RootView(dst), chunksOf(tar), { dstDir: '/', chown: null, noOverwriteDirNonDir: true });
    expect(lstatSync(join(dst, 'f')).uid).toBe(1234);
    expect(lstatSync(join(dst, 'f')).gid).toBe(4321);
  });

  it('never writes outside the root: "..", a symlink it made, a hardlink out', async () => {
    const outside = tmp();
    const root = tmp();
    mkdirSync(join(root, 'dst'));
    const v = new RootView(root);
    // ../ names are refused, and what was created before is removed again
    const e1 = await rejection(extractTar(v, chunksOf(fileEntry('ok', 'x'), fileEntry('../../evil', 'x'), END_OF_ARCHIVE), { dstDir: '/dst', chown: null, noOverwriteDirNonDir: true }));
    expect(e1.code).toBe(ErrorCode.InvalidArgument);
    expect(e1.message).toMatch(/outside the destination/);
    expect(existsSync(join(root, 'dst/ok'))).toBe(false);
    // a symlink to the host dir, then a file through it: resolved in the root, where that dir is missing
    const e0 = await rejection(extractTar(v, chunksOf(linkEntry('esc', outside), fileEntry('esc/pwned', 'x'), END_OF_ARCHIVE), { dstDir: '/dst', chown: null, noOverwriteDirNonDir: true }));
    expect(e0.code).toBe(ErrorCode.NotFound);
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
    expect(existsSync(join(root, 'dst/esc'))).toBe(false);
    // ... and where the root has that path, it lands there
    mkdirSync(join(root, outside), { recursive: true });
    await extractTar(v, chunksOf(linkEntry('esc', outside), fileEntry('esc/pwned', 'x'), END_OF_ARCHIVE), { dstDir: '/dst', chown: null, noOverwriteDirNonDir: true });
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
    expect(readFileSync(join(root, outside, 'pwned'), 'utf8')).toBe('x');
    // relative climbing symlink, then through it
    await extractTar(v, chunksOf(linkEntry('up', '../../../../../../..'), fileEntry('up/top', 'y'), END_OF_ARCHIVE), { dstDir: '/dst', chown: null, noOverwriteDirNonDir: true });
    expect(readFileSync(join(root, 'top'), 'utf8')).toBe('y');
    // a hardlink to a host file by absolute name is resolved in the root (missing there: fails, nothing linked)
    writeFileSync(join(outside, 'secret'), 's');
    const e2 = await rejection(extractTar(v, chunksOf(linkEntry('h', join(outside, 'secret'), 'hardlink'), END_OF_ARCHIVE), { dstDir: '/dst', chown: null, noOverwriteDirNonDir: true }));
    expect(e2.code).toBe(ErrorCode.NotFound);
    expect(statSync(join(outside, 'secret')).nlink).toBe(1);
  });

  it('docker cp\'s rules end to end: "dir/." into an existing dir copies its contents; into a new path makes it; "dir" nests; onto a file refuses', async () => {
    const src = tmp();
    mkdirSync(join(src, 'd/sub'), { recursive: true });
    writeFileSync(join(src, 'd/a.txt'), 'A');
    writeFileSync(join(src, 'd/sub/b.txt'), 'B');
    /** What the CLI does with a CopyFrom of `path` (archive top entry named as its base, "." for "dir/.") to a local `dst`. */
    const copy = async (path: string, dst: string, dstInfo: { exists: boolean; isDir: boolean }) => {
      const name = splitPathDirEntry(path).base;
      const plan = prepareArchiveCopy({ path, exists: true, isDir: true, rebaseName: '' }, { path: dst, ...dstInfo, rebaseName: '' });
      const to = plan.rebase?.to ?? name;
      return extractTar(new RootView(plan.dstDir), packTree(new RootView(src), '/d', name), {
        dstDir: '/', rebase: to === name ? null : { from: name, to }, chown: null, noOverwriteDirNonDir: true,
      });
    };
    const existing = tmp();
    writeFileSync(join(existing, 'kept'), 'K');
    await copy('/d/.', existing, { exists: true, isDir: true });
    expect(readFileSync(join(existing, 'a.txt'), 'utf8')).toBe('A');
    expect(readFileSync(join(existing, 'sub/b.txt'), 'utf8')).toBe('B');
    expect(readFileSync(join(existing, 'kept'), 'utf8')).toBe('K');
    expect(existsSync(join(existing, 'd'))).toBe(false);
    const parent = tmp();
    await copy('/d/.', join(parent, 'new'), { exists: false, isDir: false });
    expect(readFileSync(join(parent, 'new/sub/b.txt'), 'utf8')).toBe('B');
    await copy('/d', existing, { exists: true, isDir: true });
    expect(readFileSync(join(existing, 'd/a.txt'), 'utf8')).toBe('A');
    writeFileSync(join(parent, 'file'), '');
    expect(() => prepareArchiveCopy({ path: '/d/.', exists: true, isDir: true, rebaseName: '' }, { path: join(parent, 'file'), exists: true, isDir: false, rebaseName: '' }))
      .toThrow(/cannot copy a directory to the existing file/);
  });

  it('refuses to replace a directory with a file and the reverse', async () => {
    const root = tmp();
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'f'), '');
    const v = new RootView(root);
    const e1 = await rejection(extractTar(v, chunksOf(fileEntry('d', 'x'), END_OF_ARCHIVE), { dstDir: '/', chown: null, noOverwriteDirNonDir: true }));
    expect(e1.message).toMatch(/cannot overwrite directory \/d with non-directory/);
    const e2 = await rejection(extractTar(v, chunksOf(encodeHeader({ name: 'f', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeNs: 0n }), END_OF_ARCHIVE), { dstDir: '/', chown: null, noOverwriteDirNonDir: true }));
    expect(e2.message).toMatch(/cannot overwrite non-directory \/f with directory/);
  });
});
