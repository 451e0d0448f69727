import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsRootfsReader, ROOTFS_READ_MAX_BYTES } from './rootfs-reader';

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
    expect(await fsRootfsReader.readFile(root, '/etc/group')).toBeNull(); // not the host's file
  });
  it('stops symlink loops', async () => {
    symlinkSync('/etc/b', join(root, 'etc', 'a'));
    symlinkSync('/etc/a', join(root, 'etc', 'b'));
    await expect(fsRootfsReader.readFile(root, '/etc/a')).rejects.toThrow(/\/etc\/a in the container: .*too many levels of symbolic links/);
  });
  it('refuses a FIFO, a device, a directory at once (a FIFO used to block the read for good), naming the file', async () => {
    execFileSync('mkfifo', [join(root, 'etc', 'passwd')]);
    symlinkSync('/dev/null', join(root, 'etc', 'group')); // in root: the container's /dev/null, missing here
    mkdirSync(join(root, 'etc', 'shadow'));
    await expect(fsRootfsReader.readFile(root, '/etc/passwd')).rejects.toThrow('/etc/passwd in the container is not a regular file (a FIFO)');
    expect(await fsRootfsReader.readFile(root, '/etc/group')).toBeNull();
    mkdirSync(join(root, 'dev'));
    execFileSync('mknod', [join(root, 'dev', 'null'), 'c', '1', '3']);
    await expect(fsRootfsReader.readFile(root, '/etc/group')).rejects.toThrow('/etc/group in the container is not a regular file (a character device)');
    await expect(fsRootfsReader.readFile(root, '/etc/shadow')).rejects.toThrow(/not a regular file \(a directory\)/);
  });
  it('refuses a file larger than the cap, naming it', async () => {
    writeFileSync(join(root, 'etc', 'passwd'), Buffer.alloc(ROOTFS_READ_MAX_BYTES + 1, 0x61));
    await expect(fsRootfsReader.readFile(root, '/etc/passwd')).rejects.toThrow(`/etc/passwd in the container is larger than the ${ROOTFS_READ_MAX_BYTES} bytes berth reads from a container`);
  });
});
