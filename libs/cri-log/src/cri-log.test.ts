import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastLogRecords, logBounds, LogWriter, MAX_RECORD_CONTENT, parseRfc3339Nano, readLog, rfc3339ToNanos, type LogEntry, type ReadLogOptions } from './index';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync('/tmp/berth-crilog-');
  path = join(dir, 'c.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const t = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000000000Z`;
const rec = (s: number, stream: string, tag: string, text: string) => `${t(s)} ${stream} ${tag} ${text}\n`;
const ns = (s: number) => parseRfc3339Nano(t(s))!;

async function all(opts: ReadLogOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLog(path, opts)) out.push(`${e.stream}:${e.line.toString()}`);
  return out;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('times', () => {
  it('parses RFC3339 to the nanosecond, with any fraction and offset; input errors name the field', () => {
    expect(parseRfc3339Nano('1970-01-01T00:00:01.000000002Z')).toBe(1_000_000_002n);
    expect(parseRfc3339Nano('1970-01-01T01:00:01.5+01:00')).toBe(1_500_000_000n);
    expect(parseRfc3339Nano('yesterday')).toBeNull();
    expect(rfc3339ToNanos('1970-01-01T00:00:01Z')).toBe(1_000_000_000n);
    expect(() => rfc3339ToNanos('yesterday', 'since')).toThrow(expect.objectContaining({ code: 'InvalidArgument', field: 'since' }));
  });
});

describe('readLog', () => {
  it('reads rotated files oldest first, joins pieces per stream, skips malformed records', async () => {
    writeFileSync(`${path}.2`, rec(1, 'stdout', 'F', 'one') + rec(2, 'stdout', 'P', 'tw'));
    writeFileSync(`${path}.1`, rec(3, 'stderr', 'F', 'err') + 'garbage line\n' + rec(4, 'stdout', 'F', 'o'));
    writeFileSync(path, `${t(5)} stdout P no-newline`);
    expect(await all()).toEqual(['stdout:one\n', 'stderr:err\n', 'stdout:two\n']);
    // The record is complete once its '\n' is there; a P piece at the end is a line without a newline.
    appendFileSync(path, '\n');
    expect(await all()).toEqual(['stdout:one\n', 'stderr:err\n', 'stdout:two\n', 'stdout:no-newline']);
  });

  it('a joined line has the time of its first piece', async () => {
    writeFileSync(path, rec(1, 'stdout', 'P', 'hello ') + rec(1, 'stderr', 'F', 'err') + rec(2, 'stdout', 'F', 'world'));
    const got: LogEntry[] = [];
    for await (const e of readLog(path)) got.push(e);
    expect(got.map((e) => `${e.stream}:${e.line}`)).toEqual(['stderr:err\n', 'stdout:hello world\n']);
    expect(got[1]!.time).toBe(t(1));
  });

  it('filters by stream, time (both ends inclusive, as docker logs) and tail (0 = none)', async () => {
    writeFileSync(path, [1, 2, 3, 4, 5].map((i) => rec(i, i % 2 ? 'stdout' : 'stderr', 'F', `l${i}`)).join(''));
    expect(await all({ stderr: true })).toEqual(['stderr:l2\n', 'stderr:l4\n']);
    expect(await all({ stdout: true, stderr: true })).toHaveLength(5);
    expect(await all({ sinceNs: ns(2), untilNs: ns(4) })).toEqual(['stderr:l2\n', 'stdout:l3\n', 'stderr:l4\n']);
    expect(await all({ tail: 2 })).toEqual(['stderr:l4\n', 'stdout:l5\n']);
    expect(await all({ tail: 1, stdout: true })).toEqual(['stdout:l5\n']);
    expect(await all({ tail: 0 })).toEqual([]);
    expect(await all({ tail: -1 })).toHaveLength(5);
    expect(await all({ tail: 100 })).toHaveLength(5);
  });

  it('passes a line longer than a record on in pieces of MAX_RECORD_CONTENT, the other stream interleaved, never whole', async () => {
    // As the monitor writes an 800 KiB line: 16 KiB P records, then its F.
    const piece = (i: number) => String.fromCharCode(97 + (i % 26)).repeat(MAX_RECORD_CONTENT);
    let log = rec(1, 'stdout', 'F', 'before');
    for (let i = 0; i < 50; i++) log += rec(2, 'stdout', 'P', piece(i)) + (i === 10 ? rec(2, 'stderr', 'F', 'err') : '');
    log += rec(3, 'stdout', 'F', 'end');
    writeFileSync(path, log);
    const got: LogEntry[] = [];
    for await (const e of readLog(path)) got.push(e);
    expect(Math.max(...got.map((e) => e.line.length))).toBeLessThanOrEqual(MAX_RECORD_CONTENT + 1);
    const out = got.filter((e) => e.stream === 'stdout');
    expect(out[0]!.line.toString()).toBe('before\n');
    expect(Buffer.concat(out.slice(1).map((e) => e.line)).toString()).toBe(Array.from({ length: 50 }, (_, i) => piece(i)).join('') + 'end\n');
    expect(out.slice(1, -1).every((e) => e.line.length === MAX_RECORD_CONTENT && e.line.at(-1) !== 10)).toBe(true);
    expect(got.filter((e) => e.stream === 'stderr').map((e) => e.line.toString())).toEqual(['err\n']);
  });

  it('splits an oversize record (a log written before records were capped) and skips a huge malformed line', async () => {
    writeFileSync(path, rec(1, 'stdout', 'F', 'x'.repeat(100_000)) + 'y'.repeat(300_000) + '\n' + rec(2, 'stdout', 'F', 'after'));
    const got: LogEntry[] = [];
    for await (const e of readLog(path)) got.push(e);
    expect(got.map((e) => e.line.length)).toEqual([...Array(6).fill(MAX_RECORD_CONTENT), 100_000 - 6 * MAX_RECORD_CONTENT + 1, 6]);
    expect(got.at(-1)!.line.toString()).toBe('after\n');
    const tail: string[] = [];
    for await (const e of readLog(path, { tail: 1 })) tail.push(e.line.toString());
    expect(tail).toEqual(['after\n']);
  });

  it('tail counts lines, a long one included, and reads it again from where it began rather than holding it', async () => {
    const long = 'L'.repeat(3 * MAX_RECORD_CONTENT + 5);
    let log = rec(1, 'stdout', 'F', 'a') + rec(2, 'stdout', 'F', 'b');
    for (let at = 0; at < long.length; at += MAX_RECORD_CONTENT) {
      log += rec(3, 'stdout', 'P', long.slice(at, at + MAX_RECORD_CONTENT));
      if (at === 0) log += rec(3, 'stderr', 'P', 'e1') + rec(3, 'stderr', 'F', 'e2');
    }
    log += rec(4, 'stdout', 'F', '') + rec(5, 'stderr', 'F', 'last');
    writeFileSync(`${path}.1`, rec(0, 'stderr', 'F', 'rotated'));
    writeFileSync(path, log);
    const read = async (o: ReadLogOptions) => {
      const got: LogEntry[] = [];
      for await (const e of readLog(path, o)) got.push(e);
      const text = (s: string) => Buffer.concat(got.filter((e) => e.stream === s).map((e) => e.line)).toString();
      return { got, stdout: text('stdout'), stderr: text('stderr') };
    };
    // Lines by their end: rotated, a, b, e1e2, long, last.
    let r = await read({ tail: 2 });
    expect(r.stdout).toBe(`${long}\n`);
    expect(r.stderr).toBe('last\n');
    r = await read({ tail: 3 });
    expect(r.stdout).toBe(`${long}\n`);
    expect(r.stderr).toBe('e1e2\nlast\n');
    r = await read({ tail: 4 });
    expect(r.stdout).toBe(`b\n${long}\n`);
    r = await read({ tail: 1, stdout: true });
    expect(r.stdout).toBe(`${long}\n`);
    r = await read({ tail: 6 });
    expect(r.stderr).toBe('rotated\ne1e2\nlast\n');
    expect(Math.max(...r.got.map((e) => e.line.length))).toBeLessThanOrEqual(MAX_RECORD_CONTENT + 1);
    r = await read({ tail: 2, sinceNs: ns(3), untilNs: ns(4) });
    expect(r.stdout).toBe(`${long}\n`);
    expect(r.stderr).toBe('e1e2\n');
  });

  it('a missing log is empty', async () => {
    expect(await all()).toEqual([]);
    expect(await all({ follow: Promise.resolve() })).toEqual([]);
  });

  it('follows appends, a piece, and a rotation (written to just before it) until the end, then drains', async () => {
    writeFileSync(path, rec(1, 'stdout', 'F', 'a'));
    let exit!: () => void;
    const exited = new Promise<void>((r) => (exit = r));
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of readLog(path, { follow: exited, tail: 1 })) got.push(e.line.toString());
    })();
    await until(() => got.length === 1);
    appendFileSync(path, rec(2, 'stdout', 'P', 'b1'));
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(path, rec(2, 'stdout', 'F', 'b2'));
    await until(() => got.length === 2);
    appendFileSync(path, rec(3, 'stdout', 'F', 'c'));
    renameSync(path, `${path}.1`);
    writeFileSync(path, rec(4, 'stdout', 'F', 'd'));
    await until(() => got.length === 4);
    appendFileSync(path, `${t(5)} stdout F e`); // no newline yet: not a record
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['a\n', 'b1b2\n', 'c\n', 'd\n']);
    appendFileSync(path, '\n');
    exit();
    await reading;
    expect(got).toEqual(['a\n', 'b1b2\n', 'c\n', 'd\n', 'e\n']);
  });

  it('follows a log whose directory does not exist yet (nothing to watch): the poll finds it', async () => {
    const later = join(dir, 'later', 'c.log');
    const got: string[] = [];
    const ac = new AbortController();
    const reading = (async () => {
      for await (const e of readLog(later, { follow: new Promise(() => {}), pollMs: 20, signal: ac.signal })) got.push(e.line.toString());
    })();
    await new Promise((r) => setTimeout(r, 50));
    mkdirSync(join(dir, 'later'));
    writeFileSync(later, rec(1, 'stdout', 'F', 'a'));
    await until(() => got.length === 1);
    appendFileSync(later, rec(2, 'stdout', 'F', 'b'));
    await until(() => got.length === 2);
    ac.abort();
    await reading;
    expect(got).toEqual(['a\n', 'b\n']);
  });

  it('abort ends a follow at once, with no end in sight', async () => {
    writeFileSync(path, rec(1, 'stdout', 'F', 'a'));
    const ac = new AbortController();
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of readLog(path, { follow: new Promise(() => {}), signal: ac.signal, pollMs: 60_000 })) got.push(e.line.toString());
    })();
    await until(() => got.length === 1);
    ac.abort();
    await reading; // would hang (pollMs is a minute) if the abort did not wake the reader
    expect(got).toEqual(['a\n']);
  });

  it('follow ends at once when the log already passes until, or when a new line passes it', async () => {
    writeFileSync(path, rec(1, 'stdout', 'F', 'a') + rec(3, 'stdout', 'F', 'c'));
    expect(await all({ follow: new Promise(() => {}), untilNs: ns(2) })).toEqual(['stdout:a\n']);
    writeFileSync(path, rec(1, 'stdout', 'F', 'a'));
    const p = all({ follow: new Promise(() => {}), untilNs: ns(2) });
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(path, rec(2, 'stdout', 'F', 'b') + rec(3, 'stdout', 'F', 'c'));
    expect(await p).toEqual(['stdout:a\n', 'stdout:b\n']);
  });
});

describe('LogWriter', () => {
  const line = (s: number, text: string, stream: 'stdout' | 'stderr' = 'stdout'): LogEntry => ({ time: t(s), stream, line: Buffer.from(text) });

  it('writes F records for lines and a P piece for a line without its newline; appends to an existing log', async () => {
    writeFileSync(path, rec(1, 'stdout', 'F', 'old'));
    const w = await LogWriter.open(path);
    w.write(line(2, 'new\n'));
    w.write(line(3, 'oops\n', 'stderr'));
    w.write(line(4, 'partial'));
    await w.close();
    expect(readFileSync(path, 'utf8')).toBe(rec(1, 'stdout', 'F', 'old') + rec(2, 'stdout', 'F', 'new') + rec(3, 'stderr', 'F', 'oops') + rec(4, 'stdout', 'P', 'partial'));
    expect(await all()).toEqual(['stdout:old\n', 'stdout:new\n', 'stderr:oops\n', 'stdout:partial']);
    expect(() => w.write(line(5, 'x\n'))).toThrow(/is closed/);
  });

  it('reopen: after kubelet renamed the log, what is written next goes to a new file at the path, what was queued before to the renamed one', async () => {
    const w = await LogWriter.open(path);
    w.write(line(1, 'before\n'));
    await w.drained();
    renameSync(path, `${path}.20260101-000001`);
    w.write(line(2, 'queued before the reopen\n'));
    const reopened = w.reopen();
    w.write(line(3, 'after\n'));
    await reopened;
    w.write(line(4, 'later\n'));
    await w.close();
    expect(readFileSync(`${path}.20260101-000001`, 'utf8')).toBe(rec(1, 'stdout', 'F', 'before') + rec(2, 'stdout', 'F', 'queued before the reopen'));
    expect(readFileSync(path, 'utf8')).toBe(rec(3, 'stdout', 'F', 'after') + rec(4, 'stdout', 'F', 'later'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await expect(w.reopen()).rejects.toThrow(/is closed/);
  });

  it('reopen of a log whose directory went away fails, and so do the writes after it', async () => {
    const sub = join(dir, 'pod');
    mkdirSync(sub);
    const w = await LogWriter.open(join(sub, 'c.log'));
    rmSync(sub, { recursive: true });
    await expect(w.reopen()).rejects.toThrow(/open log/);
    w.write(line(1, 'lost\n'));
    await expect(w.close()).rejects.toThrow(/open log/);
  });

  it('writes a line longer than a record as records of MAX_RECORD_CONTENT, so the copy stays within its bounds', async () => {
    const w = await LogWriter.open(path, { maxSize: 3 * MAX_RECORD_CONTENT, maxFiles: 3 });
    w.write(line(1, `${'z'.repeat(5 * MAX_RECORD_CONTENT)}\n`));
    await w.close();
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(3 * MAX_RECORD_CONTENT);
    const records = readdirSync(dir).sort().reverse().flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    expect(records.map((r) => r.slice(31, 39))).toEqual(['stdout P', 'stdout P', 'stdout P', 'stdout P', 'stdout F']);
  });

  it('rotates as the monitor does: files stay within maxSize, maxFiles are kept, the oldest are dropped', async () => {
    const w = await LogWriter.open(path, { maxSize: 200, maxFiles: 3 });
    for (let i = 0; i < 40; i++) w.write(line(i % 60, `line ${String(i).padStart(2, '0')}\n`));
    await w.close();
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['c.log', 'c.log.1', 'c.log.2']);
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(200);
    const lines = (await all({ maxFiles: 3 })).map((s) => s.slice('stdout:line '.length, -1));
    // The newest lines, in order, none lost within what is kept.
    expect(lines[lines.length - 1]).toBe('39');
    expect(lines.map(Number)).toEqual(lines.map((_, i) => 40 - lines.length + i));
    expect(lines.length).toBeGreaterThanOrEqual(12);
  });

  it('one file: starts over; a record larger than maxSize gets a file of its own', async () => {
    const w = await LogWriter.open(path, { maxSize: 100, maxFiles: 1 });
    w.write(line(1, 'a\n'));
    w.write(line(2, `${'x'.repeat(150)}\n`));
    w.write(line(3, 'b\n'));
    await w.close();
    expect(readdirSync(dir)).toEqual(['c.log']);
    expect(await all({ maxFiles: 1 })).toEqual(['stdout:b\n']);
  });

  it('validates its bounds, naming the bad one', async () => {
    await expect(LogWriter.open(path, { maxFiles: 0 })).rejects.toThrow(/maxFiles 0 must be 1..1000/);
    await expect(LogWriter.open(path, { maxSize: -1 })).rejects.toThrow(/maxSize -1 must be a non-negative integer/);
  });

  it('a reader following the log sees every line across the writer\'s rotations', async () => {
    const w = await LogWriter.open(path, { maxSize: 300, maxFiles: 4 });
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of readLog(path, { follow: ended, maxFiles: 4, pollMs: 20 })) got.push(e.line.toString());
    })();
    // About 6 records fill a file and 4 files are kept: a reader more than 3
    // rotations behind would find lines dropped (as with Docker's json-file).
    // Stay within that, while still letting it fall up to 2 rotations behind
    // between two reads.
    for (let i = 0; i < 60; i++) {
      w.write(line(i % 60, `n${i}\n`));
      if (i % 6 === 5) {
        await w.drained();
        await until(() => got.length >= i + 1 - 12);
      }
    }
    await w.close();
    await until(() => got.length === 60);
    end();
    await reading;
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => `n${i}\n`));
  });

  it('lastLogRecords: the newest non-empty file; a record longer than a block; trailing newlines', async () => {
    writeFileSync(`${path}.1`, rec(1, 'stdout', 'F', 'a') + rec(2, 'stdout', 'F', 'b'));
    writeFileSync(path, '');
    expect(await lastLogRecords(path)).toEqual({ time: ns(2), count: 1 });
    writeFileSync(path, rec(3, 'stdout', 'F', 'x'.repeat(200_000)) + '\n\n');
    expect(await lastLogRecords(path)).toEqual({ time: ns(3), count: 1 });
  });

  it('lastLogRecords: the last time and how many records at the end carry it, across blocks and rotated files', async () => {
    expect(await lastLogRecords(path)).toBeNull();
    // One read's records share a time: a copy cut after two of its seven holds exactly two of them.
    writeFileSync(`${path}.1`, rec(1, 'stdout', 'F', 'a') + rec(2, 'stdout', 'F', 'b') + rec(2, 'stderr', 'F', 'c'));
    writeFileSync(path, rec(2, 'stdout', 'F', 'd') + rec(2, 'stdout', 'F', 'e') + '\n');
    expect(await lastLogRecords(path)).toEqual({ time: ns(2), count: 4 });
    writeFileSync(path, rec(2, 'stdout', 'F', 'x') + rec(3, 'stdout', 'P', 'y') + rec(3, 'stdout', 'F', 'z'));
    expect(await lastLogRecords(path)).toEqual({ time: ns(3), count: 2 });
    // Far more than one 64 KiB block of records at one time, after one at another.
    writeFileSync(path, rec(4, 'stdout', 'F', 'first') + Array.from({ length: 5000 }, (_, i) => rec(5, 'stdout', 'F', `line ${i}`)).join(''));
    expect(await lastLogRecords(path)).toEqual({ time: ns(5), count: 5000 });
  });
});

describe('logBounds (--log-driver, --log-opt)', () => {
  it('defaults, Docker units, -1, json-file as another name', () => {
    expect(logBounds('', {})).toEqual({ maxSize: 10 * 1024 * 1024, maxFiles: 5 });
    expect(logBounds('k8s-file', { 'max-size': '512k', 'max-file': '2' })).toEqual({ maxSize: 512 * 1024, maxFiles: 2 });
    expect(logBounds('json-file', { 'max-size': '1.5m' })).toEqual({ maxSize: 1.5 * 1024 * 1024, maxFiles: 5 });
    expect(logBounds('', { 'max-size': '10MB' }).maxSize).toBe(10 * 1024 * 1024);
    expect(logBounds('', { 'max-size': '100' }).maxSize).toBe(100);
    expect(logBounds('', { 'max-size': '-1' }).maxSize).toBe(0);
  });

  it('refuses what it cannot do, naming the part', () => {
    expect(() => logBounds('journald', {}, 'log-driver')).toThrow(expect.objectContaining({ field: 'log-driver', message: expect.stringMatching(/log driver "journald" is not supported/) }));
    expect(() => logBounds('', { compress: 'true' }, 'log-opt')).toThrow(/unknown log opt "compress" for the k8s-file log driver: expected max-size, max-file or path/);
    expect(() => logBounds('', { 'max-size': 'big' })).toThrow(/invalid log opt max-size "big": expected a size such as 512k/);
    expect(() => logBounds('', { 'max-size': '0' })).toThrow(/must be at least 1 byte/);
    expect(() => logBounds('', { 'max-file': '0' })).toThrow(/invalid log opt max-file "0": expected a whole number of files, 1 to 1000/);
    expect(() => logBounds('', { 'max-file': 'two' })).toThrow(/invalid log opt max-file "two"/);
  });
});
