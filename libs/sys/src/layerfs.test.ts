// Tests for the file-metadata bindings the layers service uses: xattrs,
// mknod (whiteouts, fifos), nanosecond times and renameat2.
import { describe, expect, it } from 'vitest';
import { lstatSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lgetxattr, llistxattr, lsetxattr, lremovexattr, mknod, S_IF, devMajor, devMinor, makedev, lutimens, renameat2, RENAME } from './index';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sys-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

describe('layer file bindings', () => {
  it('sets, lists, reads and removes binary xattrs', () => withDir((dir) => {
    const f = join(dir, 'f');
    writeFileSync(f, 'x');
    const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    lsetxattr(f, 'trusted.berth', cap);
    expect(llistxattr(f)).toContain('trusted.berth');
    expect(lgetxattr(f, 'trusted.berth')).toEqual(cap);
    lremovexattr(f, 'trusted.berth');
    expect(lgetxattr(f, 'trusted.berth')).toBeNull();
  }));

  it('makes a 0/0 char device (overlay whiteout) and a fifo', () => withDir((dir) => {
    mknod(join(dir, 'wh'), S_IF.CHR | 0o600, 0, 0);
    const st = lstatSync(join(dir, 'wh'));
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(0);
    mknod(join(dir, 'p'), S_IF.FIFO | 0o644);
    expect(lstatSync(join(dir, 'p')).isFIFO()).toBe(true);
    mknod(join(dir, 'null'), S_IF.CHR | 0o666, 1, 3);
    const n = lstatSync(join(dir, 'null'));
    expect([devMajor(n.rdev), devMinor(n.rdev)]).toEqual([1, 3]);
    expect([devMajor(makedev(259, 70000)), devMinor(makedev(259, 70000))]).toEqual([259, 70000]);
  }));

  it('sets nanosecond times on a symlink without following it', () => withDir((dir) => {
    writeFileSync(join(dir, 't'), 'x');
    symlinkSync('t', join(dir, 'l'));
    lutimens(join(dir, 'l'), 1_000_000_000_123_456_789n, 1_500_000_000_987_654_321n);
    const st = lstatSync(join(dir, 'l'), { bigint: true });
    expect(st.mtimeNs).toBe(1_500_000_000_987_654_321n);
    expect(lstatSync(join(dir, 't'), { bigint: true }).mtimeNs).not.toBe(1_500_000_000_987_654_321n);
  }));

  it('renameat2 NOREPLACE refuses to replace, EXCHANGE swaps', () => withDir((dir) => {
    writeFileSync(join(dir, 'a'), 'A');
    writeFileSync(join(dir, 'b'), 'B');
    expect(() => renameat2(join(dir, 'a'), join(dir, 'b'), RENAME.NOREPLACE)).toThrow(expect.objectContaining({ code: 'AlreadyExists' }));
    renameat2(join(dir, 'a'), join(dir, 'b'), RENAME.EXCHANGE);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('B');
    renameat2(join(dir, 'a'), join(dir, 'c'), RENAME.NOREPLACE);
    expect(existsSync(join(dir, 'a'))).toBe(false);
  }));
});
