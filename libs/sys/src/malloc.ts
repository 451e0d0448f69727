// malloc_trim(3): glibc gives freed memory back to the kernel only from the
// top of a heap; what start-up freed below a live chunk stays resident
// (berthd: ~10 MiB of its main heap, docs/design/memory.md). malloc_trim
// walks every arena and releases each whole free page (MADV_DONTNEED). It
// takes the arena locks while it walks: call it when the process is quiet.
import { libc } from './libc';

let trim: ((pad: number) => number) | null | undefined;

/**
 * Returns the free pages of every malloc arena to the kernel; true when some
 * were released. False, doing nothing, on a libc without malloc_trim (musl).
 */
export function mallocTrim(): boolean {
  if (trim === undefined) {
    try {
      trim = libc.func('int malloc_trim(size_t pad)') as (pad: number) => number;
    } catch {
      trim = null;
    }
  }
  return trim ? trim(0) === 1 : false;
}
