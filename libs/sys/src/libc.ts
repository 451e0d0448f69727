// The one place berth loads libc through koffi. Every binding in this lib
// goes through `check`, which turns a -1 return into a typed berth error
// carrying the errno name, so callers never see raw numbers.
import koffi from 'koffi';
import { constants } from 'node:os';
import { fromErrno, type BerthError } from '@berth/errors';

export const libc = koffi.load('libc.so.6');

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) {
  if (!errnoNames.has(num)) errnoNames.set(num, name);
}

/** The errno name (ENOENT...) for a number, or `errno <n>` when unknown. */
export function errnoName(num: number): string {
  return errnoNames.get(num) ?? `errno ${num}`;
}

/** The calling thread's current errno, as set by the last koffi call. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Throws a berth error built from errno when `ret` is negative. */
export function check<T extends number | bigint>(ret: T, what: string, detail?: string): T {
  if (ret < 0) throw errorFromErrno(lastErrno(), what, detail);
  return ret;
}

export function errorFromErrno(num: number, what: string, detail?: string): BerthError {
  return fromErrno(errnoName(num), what, detail);
}

export { koffi };
