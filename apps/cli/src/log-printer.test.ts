// berth logs prints a line sent in 16 KiB pieces (LogEntry.partial) as the one
// line it was: pieces one after the other, -t's timestamp only before the
// first piece, the newline after the last; streams interleave without mixing.
import { describe, expect, it } from 'vitest';
import { logPrinter } from './commands/containers';

const m = (stream: string, line: string, partial: boolean, time = 'T') => ({ time, stream, line: Buffer.from(line), partial });

describe('logPrinter', () => {
  it('joins pieces into the line, stamps it once with -t, keeps streams apart', () => {
    const show = logPrinter(true);
    const out = [
      show(m('stdout', 'aaa', true, 'T1')), show(m('stderr', 'err', false, 'T2')), show(m('stdout', 'bbb', true, 'T3')),
      show(m('stdout', 'c', false, 'T4')), show(m('stdout', 'next', false, 'T5')),
    ].map(String);
    expect(out).toEqual(['T1 aaa', 'T2 err\n', 'bbb', 'c\n', 'T5 next\n']);
    const plain = logPrinter(false);
    expect([plain(m('stdout', 'x', true)), plain(m('stdout', 'y', false)), plain(m('stdout', 'unfinished', true))].map(String)).toEqual(['x', 'y\n', 'unfinished']);
  });
});
