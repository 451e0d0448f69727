// copy.ts on a created container's record (a temp dir as its writable root,
// real bind and volume sources): the view through its mounts, Docker's
// errors, read-only refusals, and freezing a running container around a copy.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, rejection } from '@berth/errors';
import { encodeHeader, END_OF_ARCHIVE, padding } from '@berth/tar';
import { copyFrom, copyTo, frozenDuring, statPath, withMountedRoot } from './copy';
import { newContainerRecord } from './record';
import type { ContainerRecord, MountPoint } from './types';
import { defaultHostConfig } from './types';

const dirs: string[] = [];
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'berth-cpe-')); dirs.push(d); return d; };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function record(rootfs: string, mounts: MountPoint[], readonlyRootfs = false): ContainerRecord {
  const r = newContainerRecord({ id: 'a'.repeat(64), name: 'web', image: 'busybox', config: {}, hostConfig: { ...defaultHostConfig(), readonlyRootfs }, logPath: '/dev/null', now: 0 });
  return { ...r, seq: 1, rootfs, mounts };
}
async function* once(b: Buffer): AsyncGenerator<Buffer> { yield b; }
function tarOfFile(name: string, body: string): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([encodeHeader({ name, type: 'file', mode: 0o644, uid: 7, gid: 7, size: b.length, mtimeNs: 0n }), b, Buffer.alloc(padding(b.length)), END_OF_ARCHIVE]);
}
async function collect(g: AsyncIterable<Buffer>): Promise<Buffer> { const out: Buffer[] = []; for await (const b of g) out.push(b); return Buffer.concat(out); }

function setup() {
  const root = tmp();
  const bind = tmp();
  const ro = tmp();
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  mkdirSync(join(root, 'data'));
  writeFileSync(join(bind, 'in-bind'), 'bind\n');
  symlinkSync('/etc/passwd', join(bind, 'pw'));
  const rec = record(root, [
    { type: 'bind', name: '', source: bind, destination: '/data', rw: true, options: [] },
    { type: 'volume', name: 'v', source: ro, destination: '/ro', rw: false, options: [] },
    { type: 'tmpfs', name: '', source: '', destination: '/run', rw: true, options: [] },
  ]);
  return { root, bind, ro, rec };
}

describe('cp on a container without a process', () => {
  it('reads through its mounts and resolves their links in the container', async () => {
    const { rec } = setup();
    expect(statPath(rec, '/data/in-bind')).toMatchObject({ name: 'in-bind', size: 5, linkTarget: '' });
    expect(statPath(rec, 'data/pw').linkTarget).toBe('/etc/passwd');
    const { stat, tar } = copyFrom(rec, '/data/in-bind');
    expect(stat.name).toBe('in-bind');
    const bytes = await collect(tar);
    expect(bytes.includes(Buffer.from('in-bind\0'))).toBe(true);
    expect(bytes.includes(Buffer.from('bind\n'))).toBe(true);
  });

  it('says what Docker says for a missing path, a file used as a dir, and a non-directory destination', async () => {
    const { rec } = setup();
    expect(() => statPath(rec, '/nope')).toThrow('Could not find the file /nope in container web');
    expect(() => statPath(rec, '/etc/passwd/')).toThrow(/is not a directory/);
    const e = await rejection(copyTo(rec, '/etc/passwd', once(tarOfFile('x', 'x')), { copyUidGid: false, allowOverwriteDirWithFile: false }));
    expect(e.code).toBe(ErrorCode.FailedPrecondition);
    expect(e.message).toMatch(/extraction point is not a directory/);
  });

  it('writes into a bind source on the host, owned by root unless -a', async () => {
    const { rec, bind } = setup();
    const r = await copyTo(rec, '/data', once(tarOfFile('new', 'hello')), { copyUidGid: false, allowOverwriteDirWithFile: false });
    expect(r).toEqual({ entries: 1, bytes: 5 });
    expect(readFileSync(join(bind, 'new'), 'utf8')).toBe('hello');
  });

  it('refuses a read-only volume and a --read-only root before writing anything', async () => {
    const { rec, ro, root } = setup();
    const e1 = await rejection(copyTo(rec, '/ro', once(tarOfFile('x', 'x')), { copyUidGid: false, allowOverwriteDirWithFile: false }));
    expect(e1.message).toMatch(/mounted volume is marked read-only: \/ro in container web/);
    expect(existsSync(join(ro, 'x'))).toBe(false);
    const rorec = { ...rec, hostConfig: { ...rec.hostConfig, readonlyRootfs: true } };
    const e2 = await rejection(copyTo(rorec, '/etc', once(tarOfFile('x', 'x')), { copyUidGid: false, allowOverwriteDirWithFile: false }));
    expect(e2.message).toMatch(/container rootfs is marked read-only/);
    expect(existsSync(join(root, 'etc/x'))).toBe(false);
    // ...but its writable volumes still take files
    await copyTo(rorec, '/data', once(tarOfFile('y', 'y')), { copyUidGid: false, allowOverwriteDirWithFile: false });
  });
});

describe('frozenDuring', () => {
  const calls: string[] = [];
  const freezer = (state: string) => ({
    freeze: async (id: string) => { calls.push(`freeze ${id.slice(0, 3)}`); },
    thaw: async (id: string) => { calls.push(`thaw ${id.slice(0, 3)}`); },
    stateOf: () => state,
  });

  it('freezes a running container for the copy and thaws it after, even on failure', async () => {
    calls.length = 0;
    const rec = { ...setup().rec, state: 'running' as const };
    expect(await frozenDuring(rec, freezer('running'), async () => { calls.push('copy'); return 1; })).toBe(1);
    await expect(frozenDuring(rec, freezer('running'), async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(calls).toEqual(['freeze aaa', 'copy', 'thaw aaa', 'freeze aaa', 'thaw aaa']);
  });

  it('leaves paused and stopped containers alone, and does not thaw one paused meanwhile', async () => {
    calls.length = 0;
    const base = setup().rec;
    await frozenDuring({ ...base, state: 'paused' }, freezer('paused'), async () => 0);
    await frozenDuring({ ...base, state: 'exited' }, freezer('exited'), async () => 0);
    await frozenDuring({ ...base, state: 'running' }, freezer('paused'), async () => 0);
    expect(calls).toEqual(['freeze aaa']);
  });
});

describe('withMountedRoot', () => {
  it('mounts a stopped container root the layers service dropped, and only then', async () => {
    const rec = setup().rec; // a plain temp dir: not a mount point
    const asked: string[] = [];
    const mount = async (key: string, idMapping?: unknown) => { asked.push(idMapping ? `${key} idmapped` : key); return '/mounted/again'; };
    expect((await withMountedRoot(rec, mount)).rootfs).toBe('/mounted/again');
    expect((await withMountedRoot({ ...rec, rootfs: '/proc' }, mount)).rootfs).toBe('/proc'); // a mount point
    expect((await withMountedRoot({ ...rec, state: 'running', pid: process.pid }, mount)).rootfs).toBe(rec.rootfs); // live: its namespace
    expect(asked).toEqual([rec.id]);
    // --userns auto: mounted again with the container's own mapping.
    const userns = { ...rec, idMapping: { uidMappings: [], gidMappings: [] } } as unknown as ContainerRecord;
    expect((await withMountedRoot(userns, mount)).rootfs).toBe('/mounted/again');
    expect(asked).toEqual([rec.id, `${rec.id} idmapped`]);
  });
});
