import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isInvalidArgument, isNotFound } from '@berth/errors';
import { mount, umount, MNT, MS } from './mount';
import { mountAsync, umountAsync } from './mount-async';

const mounted = (p: string): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

describe('umountAsync (umount2 on a worker thread)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'berth-umount-')); });
  afterEach(() => {
    try { umount(dir, MNT.DETACH); } catch { /* not mounted */ }
    rmSync(dir, { recursive: true, force: true });
  });

  it('unmounts, and several in flight at once all complete', async () => {
    const subs = [0, 1, 2, 3, 4].map((i) => join(dir, `m${i}`));
    mount('tmpfs', dir, 'tmpfs', 0, 'size=1m');
    for (const s of subs) {
      mkdirSync(s);
      mount('tmpfs', s, 'tmpfs', 0, 'size=1m');
    }
    expect(subs.every(mounted)).toBe(true);
    await Promise.all(subs.map((s) => umountAsync(s)));
    expect(subs.some(mounted)).toBe(false);
    await umountAsync(dir);
    expect(mounted(dir)).toBe(false);
  });

  it('fails with the typed errno error: not a mount point (EINVAL), missing path (ENOENT)', async () => {
    const e1 = await umountAsync(dir).then(() => null, (e: unknown) => e);
    expect(isInvalidArgument(e1)).toBe(true);
    expect((e1 as Error).message).toContain(`unmount ${dir}`);
    const e2 = await umountAsync(join(dir, 'nope')).then(() => null, (e: unknown) => e);
    expect(isNotFound(e2)).toBe(true);
  });
});

describe('mountAsync (mount on a worker thread)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'berth-mount-')); });
  afterEach(() => {
    for (const p of [join(dir, 'b'), join(dir, 'a')]) {
      try { umount(p, MNT.DETACH); } catch { /* not mounted */ }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('bind-mounts: what is under the source shows at the target', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    mkdirSync(a);
    mkdirSync(b);
    await mountAsync('tmpfs', a, 'tmpfs', 0, 'size=64k');
    writeFileSync(join(a, 'f'), 'x');
    await mountAsync(a, b, null, MS.BIND);
    expect(mounted(b)).toBe(true);
    expect(readFileSync(join(b, 'f'), 'utf8')).toBe('x');
  });

  it('fails with the typed errno error naming the target: missing target (ENOENT)', async () => {
    const e = await mountAsync(dir, join(dir, 'nope'), null, MS.BIND).then(() => null, (err: unknown) => err);
    expect(isNotFound(e)).toBe(true);
    expect((e as Error).message).toContain(join(dir, 'nope'));
  });
});

describe('umountAsync under load', () => {
  it('queues past koffi\'s limit of 64 concurrent async calls instead of failing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-umount-many-'));
    const subs = Array.from({ length: 100 }, (_, i) => join(dir, `m${i}`));
    try {
      for (const s of subs) {
        mkdirSync(s);
        mount('tmpfs', s, 'tmpfs', 0, 'size=64k');
      }
      await Promise.all(subs.map((s) => umountAsync(s)));
      expect(subs.some(mounted)).toBe(false);
    } finally {
      for (const s of subs) { try { umount(s, MNT.DETACH); } catch { /* done */ } }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
