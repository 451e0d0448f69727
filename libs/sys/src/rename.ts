// renameat2(2): rename with RENAME_NOREPLACE (fail with EEXIST instead of
// replacing, so two racing writers cannot both "win") and RENAME_EXCHANGE
// (atomically swap two paths). Node's fs.rename is plain rename(2).
import { libc, check } from './libc';

const renameat2_ = libc.func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)');
const AT_FDCWD = -100;

export const RENAME = { NOREPLACE: 1, EXCHANGE: 2, WHITEOUT: 4 } as const;

/** renameat2(2) on absolute (or cwd-relative) paths. */
export function renameat2(oldPath: string, newPath: string, flags: number): void {
  check(renameat2_(AT_FDCWD, oldPath, AT_FDCWD, newPath, flags) as number, `rename ${oldPath} to ${newPath}`);
}
