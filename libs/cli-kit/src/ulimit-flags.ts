// run/create's --ulimit NAME=SOFT[:HARD] (container-config ulimits.ts).
import { parseUlimit, type Ulimit } from '@berth/container-config';
import type { ParsedCommand } from './command';
import { invalidFlagValue } from './command';
import { ULIMIT_FLAG } from './run-flags';

export { ULIMIT_FLAG };

/** The --ulimit entries, the last of one name winning (as Docker's map of them). */
export function ulimitsFromFlags(p: ParsedCommand): Ulimit[] {
  const byName = new Map<string, Ulimit>();
  for (const v of p.flags['ulimit'] as string[]) {
    const u = parseUlimit(v);
    if ('error' in u) throw invalidFlagValue(ULIMIT_FLAG, v, u.error);
    byName.set(u.name, u);
  }
  return [...byName.values()];
}
