// Traversal grants on state directories, as POSIX ACLs (acl(5)).
//
// berth's state dirs are 0700: no other user may reach a container's root,
// its volumes or its config. A `--userns auto` container is the exception
// that needs a way in: its shim mounts the root and the per-container files
// as the container's root, which on the host is the first id of its range,
// so each directory on those paths must let that id search it (x, never r).
// Docker's userns-remap has one remapped gid and makes such dirs
// root:<gid> 0710; berth gives every container its own range, so a shared
// dir (BERTH_ROOT, layers/mounts) carries one named-group entry per range in
// use: `group:<gid>:--x`, mask `--x`, group and other `---` (ls shows 0710).
//
// The kernel stores the ACL in the xattr system.posix_acl_access: a u32
// version (2), then 8-byte entries {u16 tag, u16 perm, u32 id}, ordered by tag
// and, for named entries, by id (fs/posix_acl.c rejects other orders). Setting
// it updates the mode bits to match (owner = USER_OBJ, group = MASK).
import { chmodSync, statSync } from 'node:fs';
import { lgetxattr, lremovexattr, lsetxattr } from './xattr';

const ACL_XATTR = 'system.posix_acl_access';
const VERSION = 2;
const TAG = { USER_OBJ: 0x01, USER: 0x02, GROUP_OBJ: 0x04, GROUP: 0x08, MASK: 0x10, OTHER: 0x20 } as const;
const UNDEFINED_ID = 0xffffffff;
const X = 1;

/** Gids with a named-group entry in `dir`'s access ACL (its traversal grants); [] without an ACL. */
export function traverseGroups(dir: string): number[] {
  const v = lgetxattr(dir, ACL_XATTR);
  if (!v || v.length < 4 || v.readUInt32LE(0) !== VERSION) return [];
  const gids: number[] = [];
  for (let off = 4; off + 8 <= v.length; off += 8) {
    if (v.readUInt16LE(off) === TAG.GROUP) gids.push(v.readUInt32LE(off + 4));
  }
  return gids;
}

/**
 * Makes `dir` owner-only plus search (x) for exactly `gids`: 0700 with no ACL
 * when `gids` is empty, else the ACL above (0710 as the mode shows it).
 */
export function setTraverseGroups(dir: string, gids: readonly number[]): void {
  const sorted = [...new Set(gids)].sort((a, b) => a - b);
  if (sorted.length === 0) {
    if (lgetxattr(dir, ACL_XATTR)) lremovexattr(dir, ACL_XATTR);
    chmodSync(dir, 0o700);
    return;
  }
  const entries: [number, number, number][] = [
    [TAG.USER_OBJ, 7, UNDEFINED_ID],
    [TAG.GROUP_OBJ, 0, UNDEFINED_ID],
    ...sorted.map((g): [number, number, number] => [TAG.GROUP, X, g]),
    [TAG.MASK, X, UNDEFINED_ID],
    [TAG.OTHER, 0, UNDEFINED_ID],
  ];
  const buf = Buffer.alloc(4 + entries.length * 8);
  buf.writeUInt32LE(VERSION, 0);
  entries.forEach(([tag, perm, id], i) => {
    buf.writeUInt16LE(tag, 4 + i * 8);
    buf.writeUInt16LE(perm, 6 + i * 8);
    buf.writeUInt32LE(id, 8 + i * 8);
  });
  lsetxattr(dir, ACL_XATTR, buf);
}

/**
 * True when `dir`'s ACL grants search to exactly `gids` and its mask lets
 * them through (a chmod 0700 of a dir with grants leaves the entries but
 * sets the mask to ---).
 */
export function hasTraverseGroups(dir: string, gids: readonly number[]): boolean {
  const want = [...new Set(gids)].sort((a, b) => a - b);
  const cur = traverseGroups(dir);
  if (cur.length !== want.length || !cur.every((g, i) => g === want[i])) return false;
  return want.length === 0 ? (statSync(dir).mode & 0o777) === 0o700 : (statSync(dir).mode & 0o070) === 0o010;
}

/** Adds search for `gid` to `dir`, keeping the grants it has. */
export function grantTraverse(dir: string, gid: number): void {
  const cur = traverseGroups(dir);
  const want = cur.includes(gid) ? cur : [...cur, gid];
  if (!hasTraverseGroups(dir, want)) setTraverseGroups(dir, want);
}

/** Removes `gid`'s search grant from `dir` (0700 again when it was the last). */
export function revokeTraverse(dir: string, gid: number): void {
  const cur = traverseGroups(dir);
  if (cur.includes(gid)) setTraverseGroups(dir, cur.filter((g) => g !== gid));
}

/**
 * Closes `dir` to other users: 0700, or 0710 when it carries traversal grants
 * (a chmod 0700 would set the ACL mask to --- and cut off a running
 * `--userns auto` container's restart). For state dirs an older berth made
 * 0755/0711.
 */
export function closeDir(dir: string): void {
  chmodSync(dir, traverseGroups(dir).length > 0 ? 0o710 : 0o700);
}
