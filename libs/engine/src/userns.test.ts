// The --userns auto pool and allocator: where ranges come from, that they
// never overlap a held one, that a removed container's range is reused, and
// the errors when the pool is too small or full.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalidArgument, isResourceExhausted } from '@berth/errors';
import { allocateIdMapping, DEFAULT_POOL, formatIdRanges, loadIdPool, parseSubIds, RANGE_SIZE, type IdPool } from './userns';
import type { IdMapping } from './types';

function withFiles<T>(subuid: string, subgid: string, fn: (p: { subuid: string; subgid: string }) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'berth-userns-'));
  try {
    writeFileSync(join(dir, 'subuid'), subuid);
    writeFileSync(join(dir, 'subgid'), subgid);
    return fn({ subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('id pool', () => {
  it('takes "berth" over "containers", names or uids, and falls back to the default pool', () => {
    const text = 'alice:100000:65536\ncontainers:200000:131072\nberth:1000000:262144\n';
    withFiles(text, text, (f) => {
      expect(loadIdPool(f)).toEqual({ owner: 'berth', uids: [{ containerId: 0, hostId: 1000000, size: 262144 }], gids: [{ containerId: 0, hostId: 1000000, size: 262144 }] });
    });
    withFiles('containers:200000:131072\n', '998:300000:65536\n', (f) => {
      // subgid names the user by uid (998): both files count for "containers".
      const p = loadIdPool({ ...f, uidOf: (n) => (n === 'containers' ? 998 : undefined) });
      expect(p.owner).toBe('containers');
      expect(p.gids).toEqual([{ containerId: 0, hostId: 300000, size: 65536 }]);
    });
    // Only one of the two files has an entry: not usable, the default pool.
    withFiles('berth:1000000:65536\n', '', (f) => expect(loadIdPool(f).owner).toBe('default'));
    withFiles('', '', (f) => expect(loadIdPool(f)).toEqual({ owner: 'default', uids: [DEFAULT_POOL], gids: [DEFAULT_POOL] }));
    expect(parseSubIds('# c\nberth:x:1\nberth:5:0\nberth:7:3\n', ['berth'])).toEqual([{ containerId: 0, hostId: 7, size: 3 }]);
  });

  it('the default pool stays below 2^31 and above the ranges others hand out', () => {
    expect(DEFAULT_POOL.hostId).toBeGreaterThan(1879048191); // systemd-nspawn's pick range ends there
    expect(DEFAULT_POOL.hostId + DEFAULT_POOL.size).toBeLessThanOrEqual(0x7ffe0000);
    expect(Math.floor(DEFAULT_POOL.size / RANGE_SIZE)).toBe(4094);
  });
});

describe('allocateIdMapping', () => {
  const pool: IdPool = {
    owner: 'berth',
    uids: [{ containerId: 0, hostId: 100000, size: 2 * RANGE_SIZE }, { containerId: 0, hostId: 900000, size: RANGE_SIZE + 5 }],
    gids: [{ containerId: 0, hostId: 500000, size: 3 * RANGE_SIZE }],
  };

  it('gives disjoint ranges, slot i of both pools, and reuses a freed one', () => {
    const held: IdMapping[] = [];
    for (let i = 0; i < 3; i++) held.push(allocateIdMapping(pool, held));
    expect(held.map((m) => [m.uidMappings[0]!.hostId, m.gidMappings[0]!.hostId])).toEqual([
      [100000, 500000], [100000 + RANGE_SIZE, 500000 + RANGE_SIZE], [900000, 500000 + 2 * RANGE_SIZE],
    ]);
    for (const m of held) expect(m.uidMappings[0]).toMatchObject({ containerId: 0, size: RANGE_SIZE });
    // Full: three slots in both pools (the 5 spare uids make no slot).
    const e = (() => { try { allocateIdMapping(pool, held); return null; } catch (x) { return x; } })();
    expect(isResourceExhausted(e)).toBe(true);
    expect((e as Error).message).toMatch(/\/etc\/subuid/);
    // Removing the second container frees its slot for the next one.
    const next = allocateIdMapping(pool, [held[0]!, held[2]!]);
    expect(next).toEqual(held[1]);
    expect(formatIdRanges(next.uidMappings)).toEqual([`0:${100000 + RANGE_SIZE}:${RANGE_SIZE}`]);
  });

  it('skips a slot overlapped by a range recorded from another pool (the files changed)', () => {
    const odd: IdMapping = { uidMappings: [{ containerId: 0, hostId: 100000 + 10, size: RANGE_SIZE }], gidMappings: [{ containerId: 0, hostId: 1, size: 1 }] };
    const m = allocateIdMapping(pool, [odd]);
    // Slots 0 and 1 of the uid pool both overlap [100010, 165546).
    expect(m.uidMappings[0]!.hostId).toBe(900000);
    expect(m.gidMappings[0]!.hostId).toBe(500000 + 2 * RANGE_SIZE);
  });

  it('refuses a pool with no whole range, naming the field', () => {
    const tiny: IdPool = { owner: 'containers', uids: [{ containerId: 0, hostId: 100000, size: 1000 }], gids: [{ containerId: 0, hostId: 100000, size: 1000 }] };
    const e = (() => { try { allocateIdMapping(tiny, []); return null; } catch (x) { return x; } })();
    expect(isInvalidArgument(e)).toBe(true);
    expect((e as { field?: string }).field).toBe('host_config.userns_mode');
  });
});
