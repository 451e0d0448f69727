// Persistent namespace handles: bind mounts of /proc/<init>/ns/<proc name> at
// <runDir>/<proc name>ns/<id> (ip-netns style: <runDir>/netns/<id>). A handle
// keeps the namespace alive and joinable without the init's pid, so the
// networks service can configure the net namespace between create and start,
// and a sandbox's namespaces outlive a container that shared them.
// Handles are keyed by the OCI names the specs and the proto use
// ("network" -> <runDir>/netns/<id>).
import { statSync, unlinkSync, existsSync } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { mountAsync, umount, umountAsync, MS, MNT, UMOUNT_NOFOLLOW } from '@berth/sys';
import { isNotFound, isInvalidArgument } from '@berth/errors';
import type { NamespaceType } from './spec';

/** OCI namespace type -> its name under /proc/<pid>/ns. */
export const NAMESPACE_PROC_NAMES: Readonly<Record<NamespaceType, string>> = {
  network: 'net',
  ipc: 'ipc',
  uts: 'uts',
  pid: 'pid',
  cgroup: 'cgroup',
  mount: 'mnt',
  user: 'user',
  time: 'time',
};

export function namespaceHandlePath(runDir: string, type: NamespaceType, id: string): string {
  return join(runDir, `${NAMESPACE_PROC_NAMES[type]}ns`, id);
}

/**
 * Bind-mounts a handle for each namespace of pid that is not the host's
 * (comparing nsfs inodes with our own). Returns {type: handle path}. On
 * failure removes what it made and throws.
 *
 * mount is the one that may be refused: binding a mount namespace into a
 * mount that propagates into that same namespace would make a loop, so the
 * kernel returns EINVAL when <runDir>/mntns sits on a shared mount; then the
 * mount handle is skipped (nothing joins a container's mount ns by handle).
 */
export async function persistNamespaces(pid: number, runDir: string, id: string): Promise<Record<string, string>> {
  const made: Record<string, string> = {};
  try {
    // Which namespaces are not the host's (procfs stats, no disk), then their
    // handle files, created together on the threadpool: an O_CREAT on ext4
    // waited up to ~100 ms for the journal on a busy machine, and this runs
    // on the event loop every service shares. allSettled: nothing may still
    // be creating a file when a failure cleans up.
    const wanted: { type: NamespaceType; procName: string; src: string; target: string }[] = [];
    for (const [type, procName] of Object.entries(NAMESPACE_PROC_NAMES) as [NamespaceType, string][]) {
      const src = `/proc/${pid}/ns/${procName}`;
      let theirs;
      try {
        theirs = statSync(src);
      } catch {
        continue; // kernel without this namespace type
      }
      const ours = statSync(`/proc/self/ns/${procName}`);
      if (theirs.ino === ours.ino && theirs.dev === ours.dev) continue;
      wanted.push({ type, procName, src, target: namespaceHandlePath(runDir, type, id) });
    }
    const files = await Promise.allSettled(wanted.map(async ({ procName, target }) => {
      await mkdir(join(runDir, `${procName}ns`), { recursive: true, mode: 0o755 });
      await (await open(target, 'wx', 0o444)).close();
    }));
    const failed = files.find((f): f is PromiseRejectedResult => f.status === 'rejected');
    if (failed) throw failed.reason;
    // The binds on worker threads too (a bind waits for the mount lock while
    // another container's teardown holds it: up to 56 ms on the loop).
    const binds = await Promise.allSettled(wanted.map(async ({ type, src, target }) => {
      try {
        await mountAsync(src, target, null, MS.BIND);
        return true;
      } catch (e) {
        await unlink(target);
        if (type === 'mount' && isInvalidArgument(e)) return false;
        throw e;
      }
    }));
    const refused = binds.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (refused) throw refused.reason;
    wanted.forEach(({ type, target }, i) => {
      if ((binds[i] as PromiseFulfilledResult<boolean>).value) made[type] = target;
    });
  } catch (e) {
    removeNamespaceHandles(runDir, id);
    throw e;
  }
  return made;
}

/** Unmounts and removes every handle of id; missing ones are fine. */
export function removeNamespaceHandles(runDir: string, id: string): void {
  for (const type of Object.keys(NAMESPACE_PROC_NAMES) as NamespaceType[]) {
    const target = namespaceHandlePath(runDir, type, id);
    if (!existsSync(target)) continue;
    // A handle may be mounted more than once if a create raced a crash;
    // unmount until the kernel says it is no mount point any more.
    for (let i = 0; i < 8; i++) {
      try {
        umount(target, MNT.DETACH | UMOUNT_NOFOLLOW);
      } catch (e) {
        if (isInvalidArgument(e) || isNotFound(e)) break;
        throw e;
      }
    }
    try {
      unlinkSync(target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/**
 * removeNamespaceHandles with the unmounts on worker threads, all handles at
 * once: each unmount waits for an RCU grace period in the kernel, so in
 * parallel they share one and the event loop is not held for any of them.
 */
export async function removeNamespaceHandlesAsync(runDir: string, id: string): Promise<void> {
  await Promise.all((Object.keys(NAMESPACE_PROC_NAMES) as NamespaceType[]).map(async (type) => {
    const target = namespaceHandlePath(runDir, type, id);
    if (!existsSync(target)) return;
    for (let i = 0; i < 8; i++) {
      try {
        await umountAsync(target, MNT.DETACH | UMOUNT_NOFOLLOW);
      } catch (e) {
        if (isInvalidArgument(e) || isNotFound(e)) break;
        throw e;
      }
    }
    try {
      await unlink(target); // the threadpool's: an ext4 unlink can wait for the journal
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }));
}
