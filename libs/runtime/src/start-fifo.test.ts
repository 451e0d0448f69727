import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFailedPrecondition } from '@berth/errors';
import { releaseInit } from './start-fifo';

describe('releaseInit (shim start without the shim)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'berth-fifo-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the waiting reader its byte and removes the fifo', () => {
    const fifo = join(dir, 'exec.fifo');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    // The init holds the fifo O_RDWR, as native/src/shim does.
    const reader = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      releaseInit(dir);
      const buf = Buffer.alloc(4);
      expect(readSync(reader, buf, 0, 4, null)).toBe(1);
      expect(buf.subarray(0, 1).toString()).toBe('0');
      expect(existsSync(fifo)).toBe(false);
    } finally {
      closeSync(reader);
    }
  });

  it('refuses a container that is not waiting: no fifo (never created or already started)', () => {
    let err: unknown;
    try { releaseInit(dir); } catch (e) { err = e; }
    expect(isFailedPrecondition(err)).toBe(true);
    expect((err as Error).message).toMatch(/not waiting to start \(no .*exec\.fifo: never created, or already started\)/);
  });

  it('refuses when nobody reads the fifo any more (the init exited)', () => {
    execFileSync('mkfifo', ['-m', '0600', join(dir, 'exec.fifo')]);
    let err: unknown;
    try { releaseInit(dir); } catch (e) { err = e; }
    expect(isFailedPrecondition(err)).toBe(true);
    expect((err as Error).message).toMatch(/its init exited/);
  });
});
