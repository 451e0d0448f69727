// docker run flags berth does not do yet: taken by name (so a script fails
// with the reason, not "unknown flag") and refused saying why. Each is a
// gap against Docker's run, listed here until it is implemented.
import { InvalidArgumentError } from '@berth/errors';
import type { FlagDef, ParsedCommand } from './command';

// None at the moment: --domainname, --mac-address and --cgroup-parent, the
// last ones here, are built.
const NOT_YET: [FlagDef, string][] = [];

export const UNSUPPORTED_RUN_FLAGS: FlagDef[] = NOT_YET.map(([f]) => f);

/** InvalidArgument naming the first of these flags given, with why. */
export function refuseUnsupportedRunFlags(p: ParsedCommand): void {
  for (const [f, why] of NOT_YET) {
    if (p.changed.has(f.name)) throw new InvalidArgumentError(`--${f.name} is not supported by berth: ${why}`, { field: f.name });
  }
}
