// The new mount API: fsopen(2), fsconfig(2), fsmount(2), move_mount(2)
// (glibc 2.36 wrappers). Used where mount(2)'s single option page is too
// small: an overlay of many layers takes one "lowerdir+" per fsconfig call
// (kernel 6.8+), so there is no limit on the number of lower layers.
import { libc, check } from './libc';
import { closeFd } from './eventfd';

const fsopen_ = libc.func('int fsopen(const char *fsname, unsigned int flags)');
const fsconfig_ = libc.func('int fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux)');
const fsmount_ = libc.func('int fsmount(int fd, unsigned int flags, unsigned int attr_flags)');
const moveMount_ = libc.func('int move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path, unsigned int flags)');

const AT_FDCWD = -100;
const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, CMD_CREATE: 6 } as const;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
/** MOUNT_ATTR_* for fsmount's attr_flags. */
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8 } as const;

/** One fsconfig parameter: a flag (value undefined) or a string. */
export interface FsParam { key: string; value?: string }

/**
 * Creates a filesystem of type `fstype` from `params` (applied in order, so
 * repeated keys such as "lowerdir+" accumulate) and attaches it at `target`.
 */
export function mountFs(fstype: string, source: string, params: FsParam[], target: string, attrFlags = 0): void {
  const what = `mount ${fstype} on ${target}`;
  const fsfd = check(fsopen_(fstype, FSOPEN_CLOEXEC) as number, `${what}: fsopen`);
  try {
    check(fsconfig_(fsfd, FSCONFIG.SET_STRING, 'source', source, 0) as number, `${what}: source`);
    for (const p of params) {
      const r = p.value === undefined
        ? fsconfig_(fsfd, FSCONFIG.SET_FLAG, p.key, null, 0)
        : fsconfig_(fsfd, FSCONFIG.SET_STRING, p.key, p.value, 0);
      check(r as number, `${what}: option ${p.key}`, p.value);
    }
    check(fsconfig_(fsfd, FSCONFIG.CMD_CREATE, null, null, 0) as number, `${what}: create`);
    const mfd = check(fsmount_(fsfd, FSMOUNT_CLOEXEC, attrFlags) as number, `${what}: fsmount`);
    try {
      check(moveMount_(mfd, '', AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) as number, `${what}: move_mount`);
    } finally {
      closeFd(mfd);
    }
  } finally {
    closeFd(fsfd);
  }
}
