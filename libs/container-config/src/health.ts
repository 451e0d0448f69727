// Healthcheck configuration: the shape rules shared by the CLI (--health-*
// flags) and the engine (every create request), and Docker's merge of a
// container's healthcheck with its image's HEALTHCHECK (moby daemon/commit.go
// merge, daemon/container.go validateHealthCheck).
import type { HealthConfig } from './index';

/** Docker's defaults (moby daemon/health.go), nanoseconds. */
export const HEALTH_DEFAULTS = {
  interval: 30_000_000_000,
  timeout: 30_000_000_000,
  startPeriod: 0,
  startInterval: 5_000_000_000,
  retries: 3,
} as const;

/** Docker's lower bound for each duration that is set (0 = inherit): 1 ms. */
export const MIN_HEALTH_DURATION_NS = 1_000_000;

/** The test kinds Docker runs: NONE, CMD (exec form), CMD-SHELL (through /bin/sh -c). */
export const HEALTH_TEST_KINDS = ['NONE', 'CMD', 'CMD-SHELL'] as const;

/** ["NONE"]: no healthcheck, not even the image's (--no-healthcheck). */
export const NO_HEALTHCHECK: HealthConfig = { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };

/**
 * Why `h` cannot be run, naming the field (`test`, `interval`...), or
 * undefined. An empty test inherits the image's and is fine here.
 */
export function checkHealthConfig(h: HealthConfig): { field: keyof HealthConfig; reason: string } | undefined {
  if (h.test.length > 0) {
    const kind = h.test[0]!;
    if (!(HEALTH_TEST_KINDS as readonly string[]).includes(kind)) {
      return { field: 'test', reason: `unknown healthcheck type "${kind}": expected NONE, CMD or CMD-SHELL as the first element` };
    }
    if (kind === 'CMD' && (h.test.length < 2 || h.test[1] === '')) return { field: 'test', reason: 'a CMD healthcheck needs a command after "CMD"' };
    if (kind === 'CMD-SHELL' && (h.test.length !== 2 || h.test[1]!.trim() === '')) {
      return { field: 'test', reason: 'a CMD-SHELL healthcheck is ["CMD-SHELL", "<shell command>"] with a non-empty command' };
    }
    if (h.test.some((a) => a.includes('\0'))) return { field: 'test', reason: 'a healthcheck command cannot contain a NUL byte' };
  }
  for (const f of ['interval', 'timeout', 'startPeriod', 'startInterval'] as const) {
    const v = h[f];
    if (!Number.isFinite(v) || v < 0) return { field: f, reason: `the healthcheck ${f} cannot be negative` };
    if (v !== 0 && v < MIN_HEALTH_DURATION_NS) return { field: f, reason: `the healthcheck ${f} cannot be less than 1ms (0 = the image's, else the default)` };
  }
  if (!Number.isInteger(h.retries) || h.retries < 0) return { field: 'retries', reason: 'the healthcheck retries cannot be negative' };
  return undefined;
}

/**
 * Docker's merge: no healthcheck on the container = the image's; otherwise
 * each field the container leaves empty or 0 takes the image's.
 */
export function mergeHealthConfig(user: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | null {
  if (!user) return image ? { ...image, test: [...image.test] } : null;
  if (!image) return { ...user, test: [...user.test] };
  return {
    test: user.test.length ? [...user.test] : [...image.test],
    interval: user.interval || image.interval,
    timeout: user.timeout || image.timeout,
    startPeriod: user.startPeriod || image.startPeriod,
    startInterval: user.startInterval || image.startInterval,
    retries: user.retries || image.retries,
  };
}

/** True when `h` asks for probes (a CMD or CMD-SHELL test). */
export function healthcheckEnabled(h: HealthConfig | null | undefined): h is HealthConfig {
  return !!h && h.test.length > 0 && (h.test[0] === 'CMD' || h.test[0] === 'CMD-SHELL');
}

/** Docker's JSON shape of a HealthConfig (image config, Docker API), durations in ns. */
export interface DockerHealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export function healthConfigFromDocker(d: DockerHealthConfig): HealthConfig {
  return {
    test: [...(d.Test ?? [])], interval: d.Interval ?? 0, timeout: d.Timeout ?? 0,
    startPeriod: d.StartPeriod ?? 0, startInterval: d.StartInterval ?? 0, retries: d.Retries ?? 0,
  };
}

export function healthConfigToDocker(h: HealthConfig): DockerHealthConfig {
  return {
    Test: h.test, ...(h.interval ? { Interval: h.interval } : {}), ...(h.timeout ? { Timeout: h.timeout } : {}),
    ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}), ...(h.startInterval ? { StartInterval: h.startInterval } : {}),
    ...(h.retries ? { Retries: h.retries } : {}),
  };
}
