// utimensat(2) and futimens(3) with nanosecond timestamps. Node's utimes
// family takes seconds as a double and loses the low nanoseconds, so two
// trees copied or unpacked by berth would not compare equal; these keep them.
// AT_SYMLINK_NOFOLLOW sets a symlink's own times (Node's lutimes does too,
// but again only to microseconds).
import { libc, check } from './libc';

const utimensat_ = libc.func('int utimensat(int dirfd, const char *path, const uint8_t *times, int flags)');
const futimens_ = libc.func('int futimens(int fd, const uint8_t *times)');

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
/** tv_nsec value meaning "leave this timestamp as it is". */
export const UTIME_OMIT = (1n << 30n) - 2n;

function timespecs(atimeNs: bigint, mtimeNs: bigint): Buffer {
  const buf = Buffer.alloc(32);
  const put = (off: number, ns: bigint) => {
    if (ns === UTIME_OMIT) {
      buf.writeBigInt64LE(0n, off);
      buf.writeBigInt64LE(UTIME_OMIT, off + 8);
      return;
    }
    // Floor division so times before 1970 keep a non-negative tv_nsec.
    let sec = ns / 1_000_000_000n;
    let nsec = ns % 1_000_000_000n;
    if (nsec < 0n) { nsec += 1_000_000_000n; sec -= 1n; }
    buf.writeBigInt64LE(sec, off);
    buf.writeBigInt64LE(nsec, off + 8);
  };
  put(0, atimeNs);
  put(16, mtimeNs);
  return buf;
}

/** Sets atime/mtime (ns since the epoch) of `path` itself, never following a symlink. */
export function lutimens(path: string, atimeNs: bigint, mtimeNs: bigint): void {
  check(utimensat_(AT_FDCWD, path, timespecs(atimeNs, mtimeNs), AT_SYMLINK_NOFOLLOW) as number, `set times of ${path}`);
}

/** Sets atime/mtime (ns since the epoch) of an open file. */
export function futimens(fd: number, atimeNs: bigint, mtimeNs: bigint): void {
  check(futimens_(fd, timespecs(atimeNs, mtimeNs)) as number, `set times of fd ${fd}`);
}
