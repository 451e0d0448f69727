// Idmapped mounts (Linux 5.12+): open_tree(2) clones a directory as a
// detached mount, mount_setattr(2) with MOUNT_ATTR_IDMAP gives that mount the
// id mapping of a user namespace, move_mount(2) attaches it. Through such a
// mount a file stored as uid 0 shows as the mapping's host id for uid 0, and a
// file created by that host id is stored as uid 0, so one unshifted image
// layer serves containers with different ranges (containerd's and Podman's
// idmapped rootfs). util-linux's "X-mount.idmap" does nothing on this kernel
// (silently), so berth makes the calls itself.
//
// mount_setattr wants a user namespace *fd*, not a mapping. Node cannot
// unshare(2) one thread and must not fork, so `userNamespaceFd` starts a tiny
// `unshare --user sleep` process, writes its uid_map/gid_map from here (root
// in the parent namespace may write any mapping), opens /proc/<pid>/ns/user
// and kills the process by pid: the open fd keeps the namespace alive.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailedPreconditionError, InvalidArgumentError } from '@berth/errors';
import { libc, check, koffi } from './libc';
import { closeFd } from './eventfd';

// Registered by name: the mount_setattr prototype below refers to it.
koffi.struct('berth_mount_attr', {
  attr_set: 'uint64',
  attr_clr: 'uint64',
  propagation: 'uint64',
  userns_fd: 'uint64',
});
const openTree_ = libc.func('int open_tree(int dfd, const char *filename, unsigned int flags)');
const mountSetattr_ = libc.func('int mount_setattr(int dfd, const char *path, unsigned int flags, const berth_mount_attr *attr, size_t size)');
const moveMount_ = libc.func('int move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path, unsigned int flags)');

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOUNT_ATTR_IDMAP = 0x00100000;
const MOUNT_ATTR_RDONLY = 0x1;
/** sizeof(struct mount_attr), MOUNT_ATTR_SIZE_VER0. */
const MOUNT_ATTR_SIZE = 32;

/** One line of /proc/<pid>/uid_map: ids [inside, inside+size) are [host, host+size) outside. */
export interface IdRange { containerId: number; hostId: number; size: number }

/**
 * Mounts `source` (a directory, not its submounts) at `target` with the id
 * mapping of the user namespace `usernsFd`: on-disk id `c` shows as the host
 * id the namespace maps `c` to; ids outside the mapping show as the overflow
 * id (65534) and cannot be written; a creator whose id the namespace does not
 * map gets EOVERFLOW. `readonly` makes the mount read-only. Undo with umount(target).
 */
export function idmappedMount(source: string, target: string, usernsFd: number, readonly = false): void {
  const what = `idmapped mount of ${source} on ${target}`;
  const fd = check(openTree_(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) as number, `${what}: open_tree`);
  try {
    const attr = { attr_set: MOUNT_ATTR_IDMAP | (readonly ? MOUNT_ATTR_RDONLY : 0), attr_clr: 0, propagation: 0, userns_fd: usernsFd };
    check(mountSetattr_(fd, '', AT_EMPTY_PATH, attr, MOUNT_ATTR_SIZE) as number, `${what}: mount_setattr(MOUNT_ATTR_IDMAP)`);
    check(moveMount_(fd, '', AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) as number, `${what}: move_mount`);
  } finally {
    closeFd(fd);
  }
}

function mapText(field: string, ranges: IdRange[]): string {
  if (ranges.length === 0) throw new InvalidArgumentError(`${field}: at least one id range is required`, { field });
  return ranges.map((r, i) => {
    for (const k of ['containerId', 'hostId', 'size'] as const) {
      if (!Number.isInteger(r[k]) || r[k] < 0 || r[k] > 0xffffffff) throw new InvalidArgumentError(`${field}[${i}].${k}: ${r[k]} is not a 32-bit id`, { field: `${field}[${i}].${k}` });
    }
    if (r.size === 0) throw new InvalidArgumentError(`${field}[${i}].size must be at least 1`, { field: `${field}[${i}].size` });
    return `${r.containerId} ${r.hostId} ${r.size}\n`;
  }).join('');
}

/**
 * An fd of a new user namespace with these mappings (for idmappedMount).
 * The caller closes it (closeFd) once the mounts are made: a mount keeps its
 * own reference to the namespace. No process is left behind, on success or
 * failure.
 */
export async function userNamespaceFd(uidMappings: IdRange[], gidMappings: IdRange[]): Promise<number> {
  const uidMap = mapText('uid_mappings', uidMappings);
  const gidMap = mapText('gid_mappings', gidMappings);
  const own = readlinkSync('/proc/self/ns/user');
  const child = spawn('unshare', ['--user', '--', 'sleep', '3600'], { stdio: 'ignore' });
  let spawnError: Error | null = null;
  // 'exit' may not follow a spawn 'error' (ENOENT): either ends the wait.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (e) => { spawnError = e; resolve(); });
  });
  try {
    const pid = child.pid;
    if (pid === undefined) throw new FailedPreconditionError('cannot start unshare(1) to create a user namespace: is util-linux installed?');
    // unshare(CLONE_NEWUSER) happens within a few ms of the spawn; wait for
    // the child's namespace link to differ from ours (bounded: 5 s).
    const deadline = Date.now() + 5000;
    for (;;) {
      if (spawnError) throw new FailedPreconditionError(`cannot start unshare(1) to create a user namespace: ${(spawnError as Error).message}`);
      let link = own;
      try { link = readlinkSync(`/proc/${pid}/ns/user`); } catch { /* not yet, or gone */ }
      if (link !== own) break;
      if (child.exitCode !== null || child.signalCode !== null) throw new FailedPreconditionError(`unshare --user exited (${child.exitCode ?? child.signalCode}) before making a user namespace: user namespaces may be disabled (user.max_user_namespaces)`);
      if (Date.now() > deadline) throw new FailedPreconditionError('unshare --user did not make a user namespace within 5 s');
      await sleep(2);
    }
    writeFileSync(`/proc/${pid}/uid_map`, uidMap);
    writeFileSync(`/proc/${pid}/gid_map`, gidMap);
    return openSync(`/proc/${pid}/ns/user`, 'r');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
}

/** Closes a namespace fd from userNamespaceFd. */
export function closeUserNamespaceFd(fd: number): void {
  closeSync(fd);
}
