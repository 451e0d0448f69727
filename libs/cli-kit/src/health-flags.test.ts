// run/create's healthcheck flags: Docker's CLI rules (a CMD-SHELL test, Go
// durations in ns, --no-healthcheck alone), and ps's health suffix.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseCommandLine, type CommandDef } from './command';
import { buildRunRequest, RUN_COMMAND } from './run-request';
import { statusString } from './units';

const ROOT: CommandDef = { name: 'berth', usage: '[OPTIONS] COMMAND', description: 'berth', subcommands: [RUN_COMMAND] };
const run = (...argv: string[]) => buildRunRequest(parseCommandLine(ROOT, ['run', ...argv]), { lookupEnv: () => undefined, readFile: () => '', cwd: '/' });
function err(...argv: string[]): { message: string; field: string | undefined } {
  try { run(...argv); } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    return { message: (e as Error).message, field: (e as { field?: string }).field };
  }
  throw new Error(`expected ${argv.join(' ')} to fail`);
}

describe('healthcheck flags', () => {
  it('builds a CMD-SHELL healthcheck with durations in nanoseconds', () => {
    const r = run('--health-cmd', 'curl -f localhost || exit 1', '--health-interval', '1m30s', '--health-timeout', '500ms',
      '--health-start-period', '10s', '--health-start-interval', '2s', '--health-retries', '4', 'alpine');
    expect(r.config.healthcheck).toEqual({
      test: ['CMD-SHELL', 'curl -f localhost || exit 1'], interval: 90e9, timeout: 500e6, startPeriod: 10e9, startInterval: 2e9, retries: 4,
    });
  });

  it('without health flags leaves the image its HEALTHCHECK; timings alone keep the image test', () => {
    expect(run('alpine').config.healthcheck).toBeUndefined();
    expect(run('--health-interval', '5s', 'alpine').config.healthcheck).toMatchObject({ test: [], interval: 5e9 });
  });

  it('--no-healthcheck is NONE and conflicts with every --health-* flag', () => {
    expect(run('--no-healthcheck', 'alpine').config.healthcheck?.test).toEqual(['NONE']);
    expect(err('--no-healthcheck', '--health-retries', '2', 'alpine')).toMatchObject({ field: 'no-healthcheck', message: expect.stringContaining('--health-retries') });
  });

  it('refuses negative, malformed and sub-millisecond durations and negative retries, naming the flag', () => {
    expect(err('--health-interval', '-1s', 'alpine')).toMatchObject({ field: 'health-interval', message: expect.stringContaining('cannot be negative') });
    expect(err('--health-timeout', 'soon', 'alpine')).toMatchObject({ field: 'health-timeout' });
    expect(err('--health-start-period', '10us', 'alpine')).toMatchObject({ field: 'health-start-period', message: expect.stringContaining('1ms') });
    expect(err('--health-retries', '-1', 'alpine')).toMatchObject({ field: 'health-retries' });
    expect(err('--health-cmd', ' ', 'alpine')).toMatchObject({ field: 'health-cmd' });
  });

  it('ps shows the health status after the uptime, as moby words it', () => {
    const now = 1_000_000;
    const up = { state: 'running' as const, exitCode: 0, startedAt: now - 5000, finishedAt: 0 };
    expect(statusString({ ...up, health: 'healthy' }, now)).toBe('Up 5 seconds (healthy)');
    expect(statusString({ ...up, health: 'starting' }, now)).toBe('Up 5 seconds (health: starting)');
    expect(statusString({ ...up, health: 'unhealthy' }, now)).toBe('Up 5 seconds (unhealthy)');
    expect(statusString({ ...up, health: '' }, now)).toBe('Up 5 seconds');
  });
});
