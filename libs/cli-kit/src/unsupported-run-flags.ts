// docker run flags berth does not do yet: taken by name (so a script fails
// with the reason, not "unknown flag") and refused saying why. Each is a
// gap against Docker's run, listed here until it is implemented.
import { InvalidArgumentError } from '@berth/errors';
import type { FlagDef, ParsedCommand } from './command';

const NOT_YET: [FlagDef, string][] = [
  [{ name: 'cgroup-parent', kind: 'string', description: 'Optional parent cgroup for the container (not supported yet)' },
    'every container is placed under the cgroups service\'s own parent (BERTH_CGROUP_PARENT); another parent is not supported yet'],
];

export const UNSUPPORTED_RUN_FLAGS: FlagDef[] = NOT_YET.map(([f]) => f);

/** InvalidArgument naming the first of these flags given, with why. */
export function refuseUnsupportedRunFlags(p: ParsedCommand): void {
  for (const [f, why] of NOT_YET) {
    if (p.changed.has(f.name)) throw new InvalidArgumentError(`--${f.name} is not supported by berth: ${why}`, { field: f.name });
  }
}
