// A minimal root filesystem for tests that run real containers: Debian's
// busybox-static (/bin/busybox, no libc needed) plus one symlink per applet,
// /etc/passwd, /etc/group and the usual empty mount points.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailedPreconditionError } from '@berth/errors';

export const BUSYBOX = '/bin/busybox';

export interface BusyboxRootfs {
  /** The temp directory (named berth-*) holding `rootfs` and room for more. */
  dir: string;
  /** The root filesystem: dir/rootfs. */
  rootfs: string;
  /** Removes everything (unmount whatever you mounted under dir first). */
  cleanup(): void;
}

export interface BusyboxRootfsOptions {
  /** Chown the whole tree to this host uid/gid (for user-namespaced
   * containers whose root maps there, e.g. 100000). */
  owner?: number;
}

function chownTree(path: string, id: number): void {
  lchownSync(path, id, id);
  if (lstatSync(path).isDirectory()) {
    for (const e of readdirSync(path)) chownTree(join(path, e), id);
  }
}

/** Builds a busybox rootfs in a fresh berth-* temp dir (mode 0755 so a
 * user-namespaced root can reach it). */
export function makeBusyboxRootfs(opts: BusyboxRootfsOptions = {}): BusyboxRootfs {
  if (!statSync(BUSYBOX, { throwIfNoEntry: false })) {
    throw new FailedPreconditionError(`${BUSYBOX} is missing: install Debian's busybox-static`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-rootfs-'));
  chmodSync(dir, 0o755);
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'home']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    // A "busybox" link would replace the binary itself.
    if (a === 'busybox' || a.includes('/')) continue;
    symlinkSync('busybox', join(rootfs, 'bin', a));
  }
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  if (opts.owner !== undefined) chownTree(rootfs, opts.owner);
  return { dir, rootfs, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
