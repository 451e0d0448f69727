// openat2(2) with RESOLVE_IN_ROOT: the kernel resolves a path as if `dirfd`
// were "/" ("..", absolute symlinks and ".." symlinks all stay below it), and
// RESOLVE_NO_MAGICLINKS refuses /proc/<pid>/fd-style links. berth's docker cp
// pins each entry's parent directory this way, so a path checked in user
// space cannot be swapped for a link to the host between check and use.
// Linux >= 5.6; glibc has no wrapper, so it goes through syscall(2) (437 on
// every architecture: new syscalls share one table since 5.1).
import { libc, check } from './libc';

const syscall_ = libc.func('long syscall(long number, ...)');
const SYS_openat2 = 437;

/** open_how.resolve flags (linux/openat2.h). */
export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
  CACHED: 0x20,
} as const;

/** O_PATH (not in Node's fs.constants). */
export const O_PATH = 0o10000000;

/**
 * openat2(dirfd, path, {flags, mode, resolve}); returns the new fd (close it
 * with fs.closeSync). Errors are typed from errno (ENOENT -> NotFound, ELOOP,
 * EXDEV when a RESOLVE_ flag refused the walk...).
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const ret = syscall_(SYS_openat2, 'int', dirfd, 'const char *', path, 'void *', how, 'size_t', 24) as number | bigint;
  return Number(check(ret, `openat2 ${path}`));
}
