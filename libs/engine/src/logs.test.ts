import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLogEntry, logFiles, parseRfc3339Nano, parseUnixTimestamp, readLogs, type LogEntry, type ReadLogsOptions } from './logs';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-logs-'));
  path = join(dir, 'container.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const t = (s: number, ns = 0) => `2024-05-01T10:00:${String(s).padStart(2, '0')}.${String(ns).padStart(9, '0')}Z`;
const l = (s: number, stream: string, tag: string, text: string) => `${t(s)} ${stream} ${tag} ${text}\n`;

async function collect(opts: ReadLogsOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLogs(path, opts)) out.push(`${e.stream}:${e.line}`);
  return out;
}

function writeRotated(): void {
  writeFileSync(`${path}.2`, l(1, 'stdout', 'F', 'one') + l(2, 'stderr', 'F', 'two'));
  writeFileSync(`${path}.1`, l(3, 'stdout', 'P', 'thr') + l(4, 'stdout', 'F', 'ee') + l(5, 'stdout', 'F', 'four'));
  writeFileSync(path, l(6, 'stderr', 'F', 'five') + 'garbage line\n' + l(7, 'stdout', 'F', 'six'));
}

describe('CRI log reader', () => {
  it('parses timestamps to the nanosecond', () => {
    expect(parseRfc3339Nano('1970-01-01T00:00:01.000000002Z')).toBe(1_000_000_002n);
    expect(parseRfc3339Nano('1970-01-01T01:00:01.5+01:00')).toBe(1_500_000_000n);
    expect(parseRfc3339Nano('yesterday')).toBeNull();
    expect(parseUnixTimestamp('12.5')).toBe(12_500_000_000n);
    expect(() => parseUnixTimestamp('1e9')).toThrow(/expected seconds since the epoch/);
  });

  it('orders rotated files oldest first', async () => {
    writeRotated();
    writeFileSync(`${path}.10`, '');
    writeFileSync(`${path}.x`, '');
    expect(await logFiles(path)).toEqual([`${path}.10`, `${path}.2`, `${path}.1`, path]);
    expect(await logFiles(join(dir, 'nope', 'c.log'))).toEqual([]);
  });

  it('reads across rotated files, joins partial lines, skips garbage', async () => {
    writeRotated();
    expect(await collect()).toEqual(['stdout:one', 'stderr:two', 'stdout:three', 'stdout:four', 'stderr:five', 'stdout:six']);
  });

  it('joins partial lines per stream when streams interleave', async () => {
    writeFileSync(path, l(1, 'stdout', 'P', 'hello ') + l(1, 'stderr', 'F', 'err') + l(2, 'stdout', 'F', 'world'));
    const got: LogEntry[] = [];
    for await (const e of readLogs(path)) got.push(e);
    expect(got.map((e) => `${e.stream}:${e.line}`)).toEqual(['stderr:err', 'stdout:hello world']);
    expect(got[1]!.time).toBe(t(1)); // time of the first fragment
  });

  it('tail, stream selection, since/until', async () => {
    writeRotated();
    expect(await collect({ tail: 2 })).toEqual(['stderr:five', 'stdout:six']);
    expect(await collect({ tail: 0 })).toEqual([]);
    expect(await collect({ tail: 100 })).toHaveLength(6);
    expect(await collect({ stderr: false })).toEqual(['stdout:one', 'stdout:three', 'stdout:four', 'stdout:six']);
    expect(await collect({ stdout: false, tail: 1 })).toEqual(['stderr:five']);
    const ns = (s: number) => parseRfc3339Nano(t(s))!;
    expect(await collect({ sinceNs: ns(4), untilNs: ns(6) })).toEqual(['stdout:four', 'stderr:five']);
  });

  it('formats with timestamps as docker logs -t', () => {
    const e: LogEntry = { time: t(1), timeNs: 0n, stream: 'stdout', line: 'x' };
    expect(formatLogEntry(e, true)).toBe(`${t(1)} x\n`);
    expect(formatLogEntry(e, false)).toBe('x\n');
  });

  it('follows appends and rotation without losing or repeating lines, stops on abort', async () => {
    writeFileSync(path, l(1, 'stdout', 'F', 'a'));
    const ac = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of readLogs(path, { follow: true, tail: 1, pollMs: 10, signal: ac.signal })) seen.push(e.line);
    })();
    const waitFor = async (n: number) => { for (let i = 0; i < 300 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10)); };
    await waitFor(1);
    appendFileSync(path, l(2, 'stdout', 'P', 'b1'));
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(path, l(2, 'stdout', 'F', 'b2'));
    await waitFor(2);
    // Write to the old file right before rotating: the reader must drain it.
    appendFileSync(path, l(3, 'stdout', 'F', 'c'));
    renameSync(path, `${path}.1`);
    writeFileSync(path, l(4, 'stderr', 'F', 'd'));
    await waitFor(4);
    appendFileSync(path, `${t(5)} stdout F e`); // no newline yet: not a line
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(['a', 'b1b2', 'c', 'd']);
    appendFileSync(path, '\n');
    await waitFor(5);
    ac.abort();
    await done;
    expect(seen).toEqual(['a', 'b1b2', 'c', 'd', 'e']);
  });

  it('follow ends at once when the existing log already passes until', async () => {
    writeFileSync(path, l(1, 'stdout', 'F', 'a') + l(3, 'stdout', 'F', 'c'));
    expect(await collect({ follow: true, pollMs: 10, untilNs: parseRfc3339Nano(t(2))! })).toEqual(['stdout:a']);
  });

  it('follow stops at until', async () => {
    writeFileSync(path, l(1, 'stdout', 'F', 'a'));
    const p = collect({ follow: true, pollMs: 10, untilNs: parseRfc3339Nano(t(2))! });
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(path, l(2, 'stdout', 'F', 'b') + l(3, 'stdout', 'F', 'c'));
    expect(await p).toEqual(['stdout:a', 'stdout:b']);
  });
});
