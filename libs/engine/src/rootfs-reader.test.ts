import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsRootfsReader, resolveInRoot } from './rootfs-reader';

let dir: string;
let root: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-rootfs-'));
  root = join(dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'host-secret'), 'HOST');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('rootfs reader', () => {
  it('reads plain files and returns null for missing ones', async () => {
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    expect(await fsRootfsReader.readFile(root, '/etc/passwd')).toMatch(/^root/);
    expect(await fsRootfsReader.readFile(root, '/etc/group')).toBeNull();
  });
  it('keeps absolute and ../ symlinks inside the root', async () => {
    writeFileSync(join(root, 'etc', 'real'), 'INSIDE');
    symlinkSync('/etc/real', join(root, 'etc', 'passwd'));
    symlinkSync('../../../../../host-secret', join(root, 'etc', 'group'));
    expect(await fsRootfsReader.readFile(root, '/etc/passwd')).toBe('INSIDE');
    expect(await resolveInRoot(root, '/etc/group')).toBe(join(root, 'host-secret'));
    expect(await fsRootfsReader.readFile(root, '/etc/group')).toBeNull(); // not the host's file
  });
  it('stops symlink loops', async () => {
    symlinkSync('/etc/b', join(root, 'etc', 'a'));
    symlinkSync('/etc/a', join(root, 'etc', 'b'));
    await expect(fsRootfsReader.readFile(root, '/etc/a')).rejects.toThrow(/too many levels/);
  });
});
