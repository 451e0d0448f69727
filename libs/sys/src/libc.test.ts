import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
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
      mount('berth-test', dir, 'tmpfs', MS.NOSUID | MS.NODEV, 'size=1m');
      umount(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
