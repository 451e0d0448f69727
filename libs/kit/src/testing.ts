// Helpers for tests that run services: a temp BERTH_ROOT/BERTH_RUN pair.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthPaths } from './config';

export interface TempPaths extends BerthPaths {
  cleanup(): void;
}

/** A fresh BERTH_ROOT and BERTH_RUN under one temp dir named berth-*. */
export function tempPaths(prefix = 'berth-test-'): TempPaths {
  const base = mkdtempSync(join(tmpdir(), prefix));
  return {
    root: join(base, 'root'),
    run: join(base, 'run'),
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}

/**
 * Parses Prometheus text exposition with Prometheus' own parser (promtool,
 * from Debian's prometheus package). Throws on a parse error; returns the
 * lint findings (naming advice), which are not errors.
 */
export function checkPrometheusText(text: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool not runnable (apt-get install prometheus): ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`;
  if (/parsing error|error while linting/.test(out)) throw new Error(`Prometheus text does not parse: ${out.trim()}`);
  return out.split('\n').filter(Boolean);
}
