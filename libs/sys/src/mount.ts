// mount(2), umount2(2). berth mounts through the syscall, never by running
// mount(8): the options are what the caller passed, and errors carry errno.
import { libc, check } from './libc';

const mount_ = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
const umount2_ = libc.func('int umount2(const char *target, int flags)');

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
} as const;

export const MNT = { FORCE: 1, DETACH: 2, EXPIRE: 4 } as const;
export const UMOUNT_NOFOLLOW = 8;

/** mount(2). `data` is the filesystem's option string (overlay's lowerdir=...). */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check(mount_(source, target, fstype, flags, data), `mount ${fstype ?? 'bind'} ${source ?? ''} on ${target}`);
}

/** umount2(2); MNT.DETACH for a lazy unmount. */
export function umount(target: string, flags = 0): void {
  check(umount2_(target, flags), `unmount ${target}`);
}
