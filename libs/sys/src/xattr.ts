// Extended attributes: lgetxattr(2), llistxattr(2), lsetxattr(2),
// lremovexattr(2), fsetxattr(2). The l* forms never follow a symlink, which
// is what layer code needs: a symlink's own xattrs are data, and following it
// while unpacking could reach outside the root. Values are raw bytes
// (security.capability is a binary struct), never strings.
import { libc, check, koffi } from './libc';

const lgetxattr_ = libc.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, unsigned long size)');
const llistxattr_ = libc.func('long llistxattr(const char *path, _Out_ uint8_t *list, unsigned long size)');
const lsetxattr_ = libc.func('int lsetxattr(const char *path, const char *name, const uint8_t *value, unsigned long size, int flags)');
const fsetxattr_ = libc.func('int fsetxattr(int fd, const char *name, const uint8_t *value, unsigned long size, int flags)');
const lremovexattr_ = libc.func('int lremovexattr(const char *path, const char *name)');

const ENODATA = 61;
const ERANGE = 34;
const ENOTSUP = 95;

/** XATTR_CREATE / XATTR_REPLACE flags for the set calls (0: create or replace). */
export const XATTR = { CREATE: 1, REPLACE: 2 } as const;

/** Names of all xattrs on `path` (not following symlinks); [] when the fs has none or no support. */
export function llistxattr(path: string): string[] {
  for (let size = 1024; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = Number(llistxattr_(path, buf, size));
    if (n < 0) {
      const errno = koffi.errno();
      if (errno === ERANGE && size < 1 << 24) continue;
      if (errno === ENOTSUP) return [];
      check(-1, `list xattrs of ${path}`);
    }
    if (n === 0) return [];
    return buf.subarray(0, n - 1).toString('latin1').split('\0');
  }
}

/** The value of xattr `name` on `path` (not following symlinks), or null when it is not set. */
export function lgetxattr(path: string, name: string): Buffer | null {
  for (let size = 256; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = Number(lgetxattr_(path, name, buf, size));
    if (n < 0) {
      const errno = koffi.errno();
      if (errno === ENODATA || errno === ENOTSUP) return null;
      if (errno === ERANGE && size < 1 << 24) continue;
      check(-1, `get xattr ${name} of ${path}`);
    }
    return buf.subarray(0, n);
  }
}

/** Sets xattr `name` on `path` itself (a symlink is not followed). */
export function lsetxattr(path: string, name: string, value: Buffer, flags = 0): void {
  check(lsetxattr_(path, name, value, value.length, flags) as number, `set xattr ${name} on ${path}`);
}

/** Sets xattr `name` on an open file. */
export function fsetxattr(fd: number, name: string, value: Buffer, flags = 0): void {
  check(fsetxattr_(fd, name, value, value.length, flags) as number, `set xattr ${name} on fd ${fd}`);
}

/** Removes xattr `name` from `path`; a missing attribute is not an error. */
export function lremovexattr(path: string, name: string): void {
  const r = lremovexattr_(path, name) as number;
  if (r < 0 && koffi.errno() !== ENODATA) check(r, `remove xattr ${name} from ${path}`);
}
