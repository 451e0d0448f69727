import { describe, expect, it } from 'vitest';
import { bytesSize, humanDuration, humanSize, parseBytes, parseGoDuration, parseTimestampArg, statusString, timeAgo } from './units';

describe('units', () => {
  it('parses Docker sizes', () => {
    const cases: [string, number | null][] = [
      ['512', 512], ['64m', 67108864], ['64M', 67108864], ['1g', 1073741824], ['1.5g', 1610612736], ['10kb', 10240],
      ['10KiB', 10240], ['2 m', 2097152], ['1t', 1024 ** 4], ['12x', null], ['', null], ['-1', null], ['1gb2', null], ['1i', null],
    ];
    for (const [s, n] of cases) expect([s, parseBytes(s)]).toEqual([s, n]);
  });
  it('prints sizes like go-units', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(7_800_000)).toBe('7.8MB');
    expect(humanSize(1_234_567_890)).toBe('1.23GB');
    expect(humanSize(5_580_000)).toBe('5.58MB');
    expect(humanSize(77_800_000)).toBe('77.8MB');
    expect(bytesSize(1536)).toBe('1.5KiB');
    expect(bytesSize(7.7 * 1024 ** 3)).toBe('7.7GiB');
    expect(bytesSize(1_048_576)).toBe('1MiB');
  });
  it('prints durations like go-units HumanDuration', () => {
    const s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;
    const cases: [number, string][] = [
      [500, 'Less than a second'], [s, '1 second'], [5 * s, '5 seconds'], [59 * s, '59 seconds'], [60 * s, 'About a minute'],
      [119 * s, 'About a minute'], [5 * m, '5 minutes'], [59 * m, '59 minutes'], [h, 'About an hour'], [89 * m, 'About an hour'],
      [3 * h, '3 hours'], [47 * h, '47 hours'], [2 * d, '2 days'], [13 * d, '13 days'], [14 * d, '2 weeks'], [59 * d, '8 weeks'],
      [60 * d, '2 months'], [729 * d, '24 months'], [730 * d, '2 years'],
    ];
    for (const [ms, want] of cases) expect([ms, humanDuration(ms)]).toEqual([ms, want]);
    expect(timeAgo(0, 3 * h)).toBe('3 hours ago');
  });
  it('prints container status like docker ps', () => {
    const now = 10_000_000;
    expect(statusString({ state: 'running', exitCode: 0, startedAt: now - 5 * 60_000, finishedAt: 0 }, now)).toBe('Up 5 minutes');
    expect(statusString({ state: 'paused', exitCode: 0, startedAt: now - 3_000, finishedAt: 0 }, now)).toBe('Up 3 seconds (Paused)');
    expect(statusString({ state: 'exited', exitCode: 0, startedAt: 1, finishedAt: now - 2_000 }, now)).toBe('Exited (0) 2 seconds ago');
    expect(statusString({ state: 'exited', exitCode: 137, startedAt: 1, finishedAt: now - 3 * 3_600_000 }, now)).toBe('Exited (137) 3 hours ago');
    expect(statusString({ state: 'restarting', exitCode: 1, startedAt: 1, finishedAt: now - 1_000 }, now)).toBe('Restarting (1) 1 second ago');
    expect(statusString({ state: 'created', exitCode: 0, startedAt: 0, finishedAt: 0 }, now)).toBe('Created');
  });
  it('parses Go durations and --since values', () => {
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('10')).toBeNull();
    const now = Date.UTC(2024, 0, 2, 12, 0, 0);
    expect(parseTimestampArg('10m', now, '--since')).toBe(`${now / 1000 - 600}.000000000`);
    expect(parseTimestampArg('1700000000.5', now, '--since')).toBe('1700000000.500000000');
    expect(parseTimestampArg('2024-01-02T03:04:05Z', now, '--since')).toBe(`${Date.UTC(2024, 0, 2, 3, 4, 5) / 1000}.000000000`);
    expect(parseTimestampArg('2024-01-02T03:04:05.25+01:00', now, '--since')).toBe(`${Date.UTC(2024, 0, 2, 2, 4, 5) / 1000}.250000000`);
    expect(parseTimestampArg('2024-01-02', now, '--since')).toBe(`${Date.UTC(2024, 0, 2) / 1000}.000000000`);
    expect(() => parseTimestampArg('yesterday', now, '--since')).toThrow('invalid argument "yesterday" for "--since": expected a duration (10m, 1h30m), an RFC3339 time (2024-01-02T15:04:05Z), a date (2024-01-02) or a Unix timestamp');
  });
});
