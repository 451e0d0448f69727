// Traversal grants (posix-acl.ts) checked by the kernel: a process running as
// an unrelated uid with the granted gid can search the dir, one without the
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDir, grantTraverse, hasTraverseGroups, revokeTraverse, setTraverseGroups, traverseGroups } from './index';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** Runs `cat path` as uid 65534 with the given gid and no supplementary groups. */
function catAs(gid: number, path: string): boolean {
  return spawnSync('setpriv', ['--reuid', '65534', '--regid', String(gid), '--clear-groups', 'cat', path], { stdio: 'ignore' }).status === 0;
}

describe('traversal grants', () => {
  it('lets exactly the granted gids search a 0700 dir, and closeDir keeps them', () => {
    const top = mkdtempSync(join(tmpdir(), 'berth-acl-'));
    dirs.push(top);
    chmodSync(top, 0o755);
    const d = join(top, 'state');
    mkdirSync(d, { mode: 0o755 });
    writeFileSync(join(d, 'f'), 'x', { mode: 0o644 });
    expect(catAs(65534, join(d, 'f'))).toBe(true);
    closeDir(d);
    expect(statSync(d).mode & 0o7777).toBe(0o700);
    expect(catAs(1879048192, join(d, 'f'))).toBe(false);

    grantTraverse(d, 1879048192);
    grantTraverse(d, 1879113728);
    expect(traverseGroups(d)).toEqual([1879048192, 1879113728]);
    expect(statSync(d).mode & 0o7777).toBe(0o710);
    expect(catAs(1879048192, join(d, 'f'))).toBe(true);
    expect(catAs(65534, join(d, 'f'))).toBe(false);

    closeDir(d); // an older berth's chmod must not cut the grants off
    expect(catAs(1879113728, join(d, 'f'))).toBe(true);
    // A plain chmod (a service starting at the same moment) sets the mask to ---: seen, and repaired.
    chmodSync(d, 0o700);
    expect(catAs(1879113728, join(d, 'f'))).toBe(false);
    expect(hasTraverseGroups(d, [1879048192, 1879113728])).toBe(false);
    grantTraverse(d, 1879113728);
    expect(hasTraverseGroups(d, [1879048192, 1879113728])).toBe(true);
    expect(catAs(1879113728, join(d, 'f'))).toBe(true);

    revokeTraverse(d, 1879048192);
    expect(catAs(1879048192, join(d, 'f'))).toBe(false);
    revokeTraverse(d, 1879113728);
    expect(traverseGroups(d)).toEqual([]);
    expect(statSync(d).mode & 0o7777).toBe(0o700);
    setTraverseGroups(d, []);
    expect(statSync(d).mode & 0o7777).toBe(0o700);
  });
});
