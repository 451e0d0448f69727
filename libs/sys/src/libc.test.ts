import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errnoName, mount, umount, MS } from './index';

describe('sys', () => {
  it('names errno numbers', () => {
    expect(errnoName(2)).toBe('ENOENT');
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(99999)).toBe('errno 99999');
  });

  it('maps a failing mount to a typed error naming target and errno', () => {
    let err: unknown;
    try {
      mount('none', '/nonexistent-berth-test-dir/x', 'tmpfs', 0);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'NotFound', errno: 'ENOENT' });
    expect(String((err as Error).message)).toContain('/nonexistent-berth-test-dir/x');
  });

  it('mounts and unmounts a tmpfs (root)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-sys-'));
    try {
      const mountLine = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir);
      mount('berth-test', dir, 'tmpfs', MS.NOSUID | MS.NODEV, 'size=1m');
      try {
        // mountinfo: mount point is field 5; per-mount options field 6; "- fstype source" after the separator.
        const line = mountLine();
        expect(line).toMatch(/ - tmpfs berth-test /);
        expect(line!.split(' ')[5]!.split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
        // The data string reached the kernel: 2 MiB do not fit a 1 MiB tmpfs.
        expect(() => writeFileSync(join(dir, 'big'), Buffer.alloc(2 << 20))).toThrow(/ENOSPC/);
      } finally {
        umount(dir);
      }
      expect(mountLine()).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
