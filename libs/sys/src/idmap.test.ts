// userNamespaceFd + idmappedMount on the real kernel: a file stored as uid 0
// shows as the mapping's host id through the mount, ids outside the mapping
// show as the overflow id, no helper process outlives the call, and bad
// mappings are refused before anything is started.
import { afterEach, describe, expect, it } from 'vitest';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalidArgument } from '@berth/errors';
import { closeUserNamespaceFd, idmappedMount, userNamespaceFd } from './idmap';
import { umount, MNT } from './mount';

const HOST = 0x7000_0000 + 4000 * 65536 + Math.floor(Math.random() * 50) * 65536;

/** Pids of our children running `sleep 3600` (the helper). */
function helperChildren(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('3600')) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

describe('idmapped mounts', () => {
  let dir = '';
  afterEach(() => {
    try { umount(join(dir, 'mnt'), MNT.DETACH); } catch { /* not mounted */ }
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows stored ids shifted by the mapping, read-only when asked, and leaves no process', async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-idmap-'));
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'mnt'));
    writeFileSync(join(dir, 'src', 'root-file'), 'x');
    writeFileSync(join(dir, 'src', 'user-file'), 'y');
    chownSync(join(dir, 'src', 'user-file'), 1000, 1000);
    writeFileSync(join(dir, 'src', 'outside'), 'z');
    chownSync(join(dir, 'src', 'outside'), 70000, 70000);
    const fd = await userNamespaceFd([{ containerId: 0, hostId: HOST, size: 65536 }], [{ containerId: 0, hostId: HOST, size: 65536 }]);
    try {
      expect(readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/^user:\[\d+\]$/);
      expect(readlinkSync(`/proc/self/fd/${fd}`)).not.toBe(readlinkSync('/proc/self/ns/user'));
      expect(helperChildren()).toEqual([]);
      idmappedMount(join(dir, 'src'), join(dir, 'mnt'), fd, true);
    } finally {
      closeUserNamespaceFd(fd);
    }
    expect(lstatSync(join(dir, 'mnt', 'root-file')).uid).toBe(HOST);
    expect(lstatSync(join(dir, 'mnt', 'user-file')).gid).toBe(HOST + 1000);
    expect(lstatSync(join(dir, 'mnt', 'outside')).uid).toBe(65534);
    expect(() => writeFileSync(join(dir, 'mnt', 'new'), 'n')).toThrow(/EROFS|read-only/);
    // The source itself is untouched.
    expect(lstatSync(join(dir, 'src', 'root-file')).uid).toBe(0);
  });

  it('refuses empty or zero-size mappings naming the field, starting nothing', async () => {
    const cases: Array<[Parameters<typeof userNamespaceFd>, string]> = [
      [[[], [{ containerId: 0, hostId: HOST, size: 1 }]], 'uid_mappings'],
      [[[{ containerId: 0, hostId: HOST, size: 1 }], [{ containerId: 0, hostId: HOST, size: 0 }]], 'gid_mappings[0].size'],
      [[[{ containerId: 0, hostId: -1, size: 1 }], [{ containerId: 0, hostId: HOST, size: 1 }]], 'uid_mappings[0].hostId'],
    ];
    dir = mkdtempSync(join(tmpdir(), 'berth-idmap-'));
    for (const [args, field] of cases) {
      const e = await userNamespaceFd(...args).catch((x: unknown) => x);
      expect(isInvalidArgument(e)).toBe(true);
      expect((e as { field?: string }).field).toBe(field);
    }
    expect(helperChildren()).toEqual([]);
  });
});
