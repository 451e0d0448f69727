// run/create's healthcheck flags, turned into a HealthConfig as Docker's CLI
// does (cli/command/container/opts.go): --health-cmd is a CMD-SHELL test,
// each duration a Go duration ("30s", "1m30s", "500ms"), --no-healthcheck a
// ["NONE"] test that conflicts with every --health-* flag. The engine checks
// the same shape again (container-config checkHealthConfig).
import { checkHealthConfig, NO_HEALTHCHECK, type HealthConfig } from '@berth/container-config';
import { InvalidArgumentError } from '@berth/errors';
import type { FlagDef, ParsedCommand } from './command';
import { invalidFlagValue } from './command';
import { HEALTH_FLAGS } from './run-flags';
import { parseGoDuration } from './units';

export { HEALTH_FLAGS };

const DURATIONS = [
  ['health-interval', 'interval'], ['health-timeout', 'timeout'], ['health-start-period', 'startPeriod'], ['health-start-interval', 'startInterval'],
] as const;

const flagOf = (name: string): FlagDef => HEALTH_FLAGS.find((f) => f.name === name)!;

/** The healthcheck the flags ask for; undefined when none was given (the image's applies). */
export function healthConfigFromFlags(p: ParsedCommand): HealthConfig | undefined {
  const given = HEALTH_FLAGS.filter((f) => f.name !== 'no-healthcheck' && p.changed.has(f.name));
  if (p.flags['no-healthcheck'] === true) {
    if (given.length) throw new InvalidArgumentError(`--no-healthcheck conflicts with --health-* options (${given.map((f) => `--${f.name}`).join(', ')})`, { field: 'no-healthcheck' });
    return { ...NO_HEALTHCHECK, test: [...NO_HEALTHCHECK.test] };
  }
  if (!given.length) return undefined;
  const h: HealthConfig = { test: [], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  const cmd = p.flags['health-cmd'] as string;
  if (p.changed.has('health-cmd')) {
    if (cmd.trim() === '') throw invalidFlagValue(flagOf('health-cmd'), cmd, 'expected a command (run with /bin/sh -c)');
    h.test = ['CMD-SHELL', cmd];
  }
  for (const [flag, field] of DURATIONS) {
    if (!p.changed.has(flag)) continue;
    const text = (p.flags[flag] as string).trim();
    const ms = text.startsWith('-') ? null : parseGoDuration(text);
    if (ms === null) {
      throw invalidFlagValue(flagOf(flag), text, text.startsWith('-') ? `--${flag} cannot be negative` : 'expected a duration such as 30s, 1m30s or 500ms');
    }
    h[field] = Math.round(ms * 1e6);
  }
  if (p.changed.has('health-retries')) {
    const r = p.flags['health-retries'] as number;
    if (r < 0) throw invalidFlagValue(flagOf('health-retries'), String(r), '--health-retries cannot be negative');
    h.retries = r;
  }
  const bad = checkHealthConfig(h);
  if (bad) {
    const flag = bad.field === 'test' ? 'health-cmd' : bad.field === 'retries' ? 'health-retries' : DURATIONS.find(([, f]) => f === bad.field)![0];
    throw invalidFlagValue(flagOf(flag), String(p.flags[flag]), bad.reason);
  }
  return h;
}
