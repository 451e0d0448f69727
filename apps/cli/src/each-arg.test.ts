// eachArg: `berth rm a b c` goes on after a failure, prints in argument order,
// runs up to `parallel` calls at once (Docker's CLI: 50 for rm/stop/kill/
// pause/unpause), and stops at an unreachable engine.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError, UnavailableError } from '@berth/errors';
import { BERTH, parseCommandLine } from '@berth/cli-kit';
import { Ctx, eachArg, type Streams } from './context';

const dir = mkdtempSync(join(tmpdir(), 'berth-eacharg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function context(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const stream = (into: string[]) => ({ isTTY: false, write: (s: string) => { into.push(s); return true; } });
  const io = { stdin: process.stdin, stdout: stream(out), stderr: stream(err) } as unknown as Streams;
  return { ctx: new Ctx(parseCommandLine(BERTH, ['rm', 'x']), io, env), out, err };
}

/** A call that takes `ms`, tracking how many run at once; names starting with "bad" fail. */
function tracked() {
  let now = 0;
  let max = 0;
  const started: string[] = [];
  const fn = async (name: string) => {
    started.push(name);
    max = Math.max(max, ++now);
    await new Promise((r) => setTimeout(r, 5 + (name.charCodeAt(name.length - 1) % 4) * 5));
    now--;
    if (name.startsWith('bad')) throw new NotFoundError(`No such container: ${name}`);
    return name;
  };
  return { fn, started, max: () => max };
}

describe('eachArg', () => {
  const names = ['a1', 'bad2', 'c3', 'd4', 'e5', 'bad6', 'g7', 'h8'];

  it('runs one at a time by default, in order, going on after failures', async () => {
    const { ctx, out, err } = context();
    const t = tracked();
    expect(await eachArg(ctx, names, t.fn)).toBe(1);
    expect(t.max()).toBe(1);
    expect(out.join('')).toBe('a1\nc3\nd4\ne5\ng7\nh8\n');
    expect(err.join('')).toBe('berth: No such container: bad2\nberth: No such container: bad6\n');
  });

  it('runs up to `parallel` at once and still prints in argument order', async () => {
    const { ctx, out, err } = context();
    const t = tracked();
    expect(await eachArg(ctx, names, t.fn, 3)).toBe(1);
    expect(t.max()).toBe(3);
    expect(t.started).toEqual(names);
    expect(out.join('')).toBe('a1\nc3\nd4\ne5\ng7\nh8\n');
    expect(err.join('')).toBe('berth: No such container: bad2\nberth: No such container: bad6\n');
    const ok = context();
    expect(await eachArg(ok.ctx, ['a1', 'c3'], tracked().fn, 50)).toBe(0);
  });

  it('throws "cannot reach the engine" at the first unreachable call and starts no more', async () => {
    const sock = join(dir, 'engine.sock');
    writeFileSync(sock, ''); // exists, so the client is made; nothing listens
    const { ctx, out } = context({ BERTH_ENGINE_ADDR: `unix:${sock}` });
    ctx.engine();
    const started: string[] = [];
    const fn = async (name: string) => {
      started.push(name);
      await new Promise((r) => setTimeout(r, 5));
      if (name === 'c') throw new UnavailableError(`No connection established. Last error: connect ECONNREFUSED ${sock}`);
      return name;
    };
    const many = Array.from({ length: 20 }, (_, i) => (i === 2 ? 'c' : `n${i}`));
    await expect(eachArg(ctx, many, fn, 2)).rejects.toThrow(`cannot reach the engine at unix:${sock}`);
    await new Promise((r) => setTimeout(r, 50));
    expect(started.length).toBeLessThan(many.length);
    expect(out.join('')).toBe('n0\nn1\n');
    ctx.close();
  });
});
