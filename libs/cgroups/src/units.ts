// Units as the Docker CLI parses them, so `berth run -m 64m --cpus 0.5` means
// what `docker run` means. parseBytes follows go-units RAMInBytes: binary
// multiples (k = 1024), an optional "b"/"ib" suffix, case-insensitive.
import { InvalidArgumentError } from '@berth/errors';

const MULT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
const BYTES = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i;

/** "64m" -> 67108864; "1g", "512k", "100" (bytes), "1.5g". Throws InvalidArgumentError naming `field`. */
export function parseBytes(text: string, field = 'memory'): number {
  const m = BYTES.exec(text.trim());
  if (!m) {
    throw new InvalidArgumentError(`${field}: "${text}" is not a size (use bytes or a k, m, g, t suffix, like 64m)`, { field });
  }
  const n = Number(m[1]) * (MULT[(m[2] ?? '').toLowerCase()] ?? 1);
  if (!Number.isSafeInteger(Math.floor(n))) throw new InvalidArgumentError(`${field}: "${text}" is too large`, { field });
  return Math.floor(n);
}

/** Default CFS period in microseconds (what the kernel and Docker use). */
export const DEFAULT_CPU_PERIOD = 100000;

/** "0.5" -> 0.5 CPUs. Docker's --cpus: a positive decimal with at most 9 fractional digits. */
export function parseCpus(text: string, field = 'cpus'): number {
  if (!/^\d+(\.\d{1,9})?$|^\.\d{1,9}$/.test(text.trim())) {
    throw new InvalidArgumentError(`${field}: "${text}" is not a number of CPUs (like 0.5 or 2)`, { field });
  }
  const v = Number(text);
  // Docker's floor: below 0.01 CPU the quota would be under the kernel's 1 ms minimum.
  if (v < 0.01) throw new InvalidArgumentError(`${field}: ${text} is below the minimum of 0.01 CPUs`, { field });
  return v;
}

/** --cpus N -> {quota, period}: quota = N * period, period 100000 us. */
export function cpusToQuota(cpus: number, period = DEFAULT_CPU_PERIOD): { quota: number; period: number } {
  return { quota: Math.round(cpus * period), period };
}
