import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { readLog, rfc3339ToNanos, type LogEntry } from './logs';

let dir: string;
beforeEach(() => (dir = mkdtempSync('/tmp/berth-logs-')));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const t = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000000000Z`;
async function all(it: AsyncIterable<LogEntry>) {
  const out: string[] = [];
  for await (const e of it) out.push(`${e.stream}:${e.line.toString()}`);
  return out;
}

describe('readLog', () => {
  it('reads rotated files oldest first and joins partial records per stream', async () => {
    const p = join(dir, 'c.log');
    writeFileSync(`${p}.2`, `${t(1)} stdout F one\n${t(2)} stdout P tw\n`);
    writeFileSync(`${p}.1`, `${t(3)} stderr F err\n${t(4)} stdout F o\n`);
    writeFileSync(p, `${t(5)} stdout P no-newline`);
    expect(await all(readLog(p))).toEqual(['stdout:one\n', 'stderr:err\n', 'stdout:two\n']);
    appendFileSync(p, '\n'); // the unterminated record is complete once its '\n' is there
    expect(await all(readLog(p))).toEqual(['stdout:one\n', 'stderr:err\n', 'stdout:two\n', 'stdout:no-newline']);
  });

  it('filters by stream, time and tail', async () => {
    const p = join(dir, 'c.log');
    writeFileSync(p, [1, 2, 3, 4, 5].map((i) => `${t(i)} ${i % 2 ? 'stdout' : 'stderr'} F l${i}\n`).join(''));
    expect(await all(readLog(p, { stderr: true }))).toEqual(['stderr:l2\n', 'stderr:l4\n']);
    expect(await all(readLog(p, { since: t(2), until: '2026-01-01T00:00:04Z' }))).toEqual(['stderr:l2\n', 'stdout:l3\n']);
    expect(await all(readLog(p, { tail: 2 }))).toEqual(['stderr:l4\n', 'stdout:l5\n']);
    expect(await all(readLog(p, { tail: 1, stdout: true }))).toEqual(['stdout:l5\n']);
    expect(() => rfc3339ToNanos('yesterday', 'since')).toThrow(expect.objectContaining({ code: 'InvalidArgument', field: 'since' }));
    expect(rfc3339ToNanos('1970-01-01T00:00:01.5+00:00')).toBe(1_500_000_000n);
  });

  it('follows appends and a rotation until told the container exited', async () => {
    const p = join(dir, 'c.log');
    writeFileSync(p, `${t(1)} stdout F a\n`);
    let exit!: () => void;
    const exited = new Promise<void>((r) => (exit = r));
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of readLog(p, { follow: exited })) got.push(e.line.toString());
    })();
    await until(() => got.length === 1);
    appendFileSync(p, `${t(2)} stdout F b\n`);
    await until(() => got.length === 2);
    appendFileSync(p, `${t(3)} stdout F c\n`);
    renameSync(p, `${p}.1`);
    writeFileSync(p, `${t(4)} stdout F d\n`);
    await until(() => got.length === 4);
    appendFileSync(p, `${t(5)} stdout F e\n`);
    exit();
    await reading;
    expect(got).toEqual(['a\n', 'b\n', 'c\n', 'd\n', 'e\n']);
  });
});

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
