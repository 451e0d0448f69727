import { closeSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isNotFound } from '@berth/errors';
import { waitpidNoHang, type WaitStatus } from './reaper';
import { spawnHelper } from './spawn';

async function reap(pid: number): Promise<WaitStatus> {
  for (let i = 0; i < 500; i++) {
    const st = waitpidNoHang(pid);
    if (st) return st;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`pid ${pid} did not exit`);
}

describe('spawnHelper (posix_spawn with piped stdout/stderr)', () => {
  it('runs the program with its argv and env, stdout and stderr on the pipes, stdin empty', async () => {
    const h = await spawnHelper('/bin/sh', ['sh', '-c', 'read x; echo "out:$FOO:$0:${x:-eof}"; echo err >&2; exit 3', 'arg0'], ['FOO=bar', 'PATH=/usr/bin:/bin']);
    try {
      expect(readFileSync(h.stdoutFd, 'utf8')).toBe('out:bar:arg0:eof\n');
      expect(readFileSync(h.stderrFd, 'utf8')).toBe('err\n');
    } finally {
      closeSync(h.stdoutFd);
      closeSync(h.stderrFd);
    }
    expect(await reap(h.pid)).toEqual({ pid: h.pid, code: 3, signal: null });
  });

  it('a missing program is a typed NotFound, and nothing is left open', async () => {
    let err: unknown;
    try { await spawnHelper('/nonexistent/berth-helper', ['x'], []); } catch (e) { err = e; }
    expect(isNotFound(err)).toBe(true);
    expect((err as Error).message).toContain('spawn /nonexistent/berth-helper');
  });
});
