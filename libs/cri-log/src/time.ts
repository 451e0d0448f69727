// Times in the CRI log: RFC3339Nano as the monitor writes them (fixed 9
// digits, Z), and as users type them (any fraction, Z or an offset).
import { InvalidArgumentError } from '@berth/errors';

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Nanoseconds since the epoch of an RFC3339 time; null when it is not one. */
export function parseRfc3339Nano(s: string): bigint | null {
  const m = RFC3339.exec(s);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** parseRfc3339Nano for input: an InvalidArgumentError naming `field` when it is not a time. */
export function rfc3339ToNanos(s: string, field = 'time'): bigint {
  const ns = parseRfc3339Nano(s);
  if (ns === null) throw new InvalidArgumentError(`${field} ${JSON.stringify(s)} is not an RFC3339 time (2006-01-02T15:04:05.999999999Z)`, { field });
  return ns;
}

