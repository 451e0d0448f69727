// Signal names as the engine takes them: Docker's spellings ("TERM",
// "sigterm", "15") normalised to "SIGTERM" (container-config's table), and
// the stop signal a container asked for.
import { InvalidArgumentError } from '@berth/errors';
import { normalizeSignalName, quoteValue } from '@berth/container-config';
import type { ContainerRecord } from '../types';

/** "TERM", "sigterm", "15" -> "SIGTERM"; InvalidArgument for anything else. */
export function normalizeSignal(s: string): string {
  const name = normalizeSignalName(s);
  if (name) return name;
  throw new InvalidArgumentError(`invalid signal "${quoteValue(s)}": expected a name like SIGTERM or TERM, or a number 1-64`, { field: 'signal' });
}

/** The container's stop signal, normalised; SIGTERM when unset or unparseable (an image's odd STOPSIGNAL must not make stop impossible). */
export function stopSignalOf(c: ContainerRecord): string {
  try {
    return c.config.stopSignal ? normalizeSignal(c.config.stopSignal) : 'SIGTERM';
  } catch {
    return 'SIGTERM';
  }
}
