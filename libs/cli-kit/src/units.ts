// Docker's unit conventions (github.com/docker/go-units), for parsing flags
// and printing sizes and durations the way `docker` prints them.
import { InvalidArgumentError } from '@berth/errors';

const BINARY: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * "64m", "1g", "512", "1.5GiB", "100kb" -> bytes (binary multiples, as
 * go-units RAMInBytes). Returns null when the text is not a size.
 */
export function parseBytes(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text);
  if (!m) return null;
  // "1i" or "1ib" without a unit letter is not a size.
  if (!m[2] && /[iI]/.test(text)) return null;
  return Math.floor(Number(m[1]) * BINARY[(m[2] ?? '').toLowerCase()]!);
}

/** Go's %.<p>g: p significant digits, trailing zeros dropped. */
function gFormat(x: number, p: number): string {
  return String(Number(x.toPrecision(p)));
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function customSize(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) { size /= base; i++; }
  return `${gFormat(size, precision)}${units[i]}`;
}

/** "7.8MB": decimal units, 3 significant digits (docker images, system df, stats I/O). */
export function humanSize(bytes: number, precision = 3): string {
  return customSize(bytes, 1000, DECIMAL_UNITS, precision);
}

/** "1.5MiB": binary units, 4 significant digits (docker stats memory). */
export function bytesSize(bytes: number): string {
  return customSize(bytes, 1024, BINARY_UNITS, 4);
}

/**
 * go-units HumanDuration: "Less than a second", "1 second", "5 seconds",
 * "About a minute", "5 minutes", "About an hour", "3 hours", "2 days",
 * "3 weeks", "4 months", "2 years".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** "3 hours ago" (docker ps CREATED, images CREATED). */
export function timeAgo(thenMs: number, nowMs: number): string {
  return `${humanDuration(Math.max(0, nowMs - thenMs))} ago`;
}

/** What docker ps prints in STATUS (moby container/state.go String()). */
export interface StatusFacts {
  state: 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'removing' | 'dead';
  exitCode: number;
  /** Epoch ms, 0 = never. */
  startedAt: number;
  finishedAt: number;
  /** Healthcheck status (starting, healthy, unhealthy); "" or absent = none. */
  health?: string;
}

export function statusString(s: StatusFacts, nowMs: number): string {
  switch (s.state) {
    case 'paused': return `Up ${humanDuration(nowMs - s.startedAt)} (Paused)`;
    case 'restarting': return `Restarting (${s.exitCode}) ${humanDuration(nowMs - s.finishedAt)} ago`;
    // moby's Health.String(): "health: starting", else the status.
    case 'running': return `Up ${humanDuration(nowMs - s.startedAt)}${s.health ? ` (${s.health === 'starting' ? 'health: starting' : s.health})` : ''}`;
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
    case 'created': return 'Created';
    case 'exited':
      if (!s.startedAt) return 'Created';
      if (!s.finishedAt) return '';
      return `Exited (${s.exitCode}) ${humanDuration(nowMs - s.finishedAt)} ago`;
  }
}

const GO_DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go time.ParseDuration ("1h30m", "10s", "1.5h") -> ms; null when not a duration. */
export function parseGoDuration(text: string): number | null {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * GO_DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === text.length && pos > 0 ? total : null;
}

/**
 * --since/--until values as Docker accepts them (docker/api/types/time
 * GetTimestamp): a Go duration relative to now ("10m", "1h30m"), RFC3339
 * with or without fraction/zone, a date "2006-01-02", "2006-01-02T15:04", or
 * a Unix timestamp "1700000000[.123]". Returns Docker's wire form
 * "<seconds>.<nanoseconds, 9 digits>".
 */
export function parseTimestampArg(value: string, nowMs: number, flag: string): string {
  const fail = (): never => {
    throw new InvalidArgumentError(
      `invalid argument "${value}" for "${flag}": expected a duration (10m, 1h30m), an RFC3339 time (2024-01-02T15:04:05Z), a date (2024-01-02) or a Unix timestamp`,
      { field: flag.replace(/^.*--/, '') },
    );
  };
  if (/^\d+(\.\d{1,9})?$/.test(value)) {
    const [s, f = ''] = value.split('.');
    return `${s}.${f.padEnd(9, '0')}`;
  }
  const d = parseGoDuration(value);
  if (d !== null) {
    const ms = nowMs - d;
    return `${Math.floor(ms / 1000)}.${String(Math.round((ms % 1000) * 1e6)).padStart(9, '0')}`;
  }
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value);
  if (!m) return fail();
  const zone = m[5] ? (m[5] === 'Z' ? 'Z' : m[5].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')) : 'Z'; // Docker: no zone = UTC... local in newer; berth uses UTC for reproducibility
  const ms = Date.parse(`${m[1]}T${m[2] ?? '00:00'}:${m[3] ?? '00'}${zone}`);
  if (Number.isNaN(ms)) return fail();
  return `${Math.floor(ms / 1000)}.${(m[4] ?? '').padEnd(9, '0')}`;
}
