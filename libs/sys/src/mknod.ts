// mknod(2) for device nodes, fifos and overlayfs whiteouts (a character device
// 0/0). Node has no binding for it. dev_t uses glibc's encoding (makedev(3)):
// 12 bits of major and 20 of minor split across the 64-bit value.
import { libc, check } from './libc';

const mknod_ = libc.func('int mknod(const char *path, unsigned int mode, uint64_t dev)');

/** File-type bits for mknod's mode (S_IFCHR...). */
export const S_IF = { FIFO: 0o010000, CHR: 0o020000, DIR: 0o040000, BLK: 0o060000, REG: 0o100000, LNK: 0o120000, SOCK: 0o140000 } as const;

/** makedev(3): the dev_t for a major/minor pair. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** major(3) of a dev_t (as fs.Stats.rdev gives it). */
export function devMajor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 32n) & 0xfffff000n) | ((d >> 8n) & 0xfffn));
}

/** minor(3) of a dev_t. */
export function devMinor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 12n) & 0xffffff00n) | (d & 0xffn));
}

/**
 * mknod(2). `mode` holds the type (S_IF.CHR...) and permission bits; the
 * process umask applies, so callers that need exact bits chmod afterwards.
 */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  check(mknod_(path, mode, makedev(major, minor)) as number, `mknod ${path}`);
}
