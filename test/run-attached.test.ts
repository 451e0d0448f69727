// A foreground run in one call (Engine.RunAttached) and --rm as the engine's
// job, on the real stack: every quick run delivers all its output and its
// exit code (the CLI's Attach used to lose the race with the exit and fall
// back to Wait + Logs), a reader that goes away (`| head -1`) neither breaks
// the CLI nor leaves the container behind, a stdin of several MiB (-i)
// arrives whole, and inspect shows AutoRemove.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { engineV1 } from '@berth/proto';
import { BERTH_BIN, startCliStack, until, type CliStack } from './support/cli-stack';

type RunMsg = engineV1.RunAttachedResponse__Output;

/** One RunAttached call: what it streamed and how it ended. */
async function runAttached(s: CliStack, cmd: string[], host: Partial<engineV1.HostConfig> = {}, labels: Record<string, string> = {}): Promise<{ created?: string; stdout: string; stderr: string; exit?: engineV1.RunAttachedExit__Output }> {
  const call = (s.engine as unknown as { RunAttached(): NodeJS.ReadWriteStream & { write(m: engineV1.RunAttachedRequest): boolean; end(): void } }).RunAttached();
  call.write({ start: { create: { config: { image: 'busybox:latest', cmd: { values: cmd }, labels }, hostConfig: { networkMode: 'none', ...host }, pull: 'never' }, stdin: false } });
  const out = { stdout: '', stderr: '' } as { created?: string; stdout: string; stderr: string; exit?: engineV1.RunAttachedExit__Output };
  await new Promise<void>((resolve, reject) => {
    call.on('data', (m: RunMsg) => {
      if (m.created) out.created = m.created.id;
      else if (m.output) out[m.output.stream === 'stderr' ? 'stderr' : 'stdout'] += m.output.data.toString();
      else if (m.exit) out.exit = m.exit;
    });
    call.on('end', () => resolve());
    call.on('error', reject);
  });
  return out;
}

describe('RunAttached and engine-side --rm', () => {
  let s: CliStack;
  beforeAll(async () => {
    s = await startCliStack(false, 64);
    await until('busybox image', async () => ((await s.berth(['image', 'inspect', 'busybox'])).code === 0 ? true : undefined), 30_000);
  }, 150_000);
  afterAll(async () => {
    await s?.stop();
  }, 120_000);

  it('delivers all output and the exit code of 50 quick runs, and removes each --rm container', async () => {
    const results: { i: number; r: Awaited<ReturnType<typeof runAttached>> }[] = [];
    for (let batch = 0; batch < 10; batch++) {
      results.push(...await Promise.all([0, 1, 2, 3, 4].map(async (k) => {
        const i = batch * 5 + k;
        return { i, r: await runAttached(s, ['sh', '-c', `echo out-${i}; echo err-${i} >&2; exit ${i % 7}`], { autoRemove: true }) };
      })));
    }
    for (const { i, r } of results) {
      expect(r.stdout, `run ${i}`).toBe(`out-${i}\n`);
      expect(r.stderr, `run ${i}`).toBe(`err-${i}\n`);
      expect(r.exit, `run ${i}`).toEqual({ exitCode: i % 7, oomKilled: false, removed: true });
    }
    // Removed before the exit was answered: nothing to wait for.
    expect((await s.berth(['ps', '-aq'])).stdout).toBe('');
  }, 240_000);

  it('a command that cannot run ends with 127 and its message; a failed start is the call\'s error, the --rm container removed', async () => {
    const missing = await runAttached(s, ['no-such-command'], { autoRemove: true });
    expect(missing.exit).toEqual({ exitCode: 127, oomKilled: false, removed: true });
    expect(missing.stderr).toMatch(/no-such-command.*No such file/);
    // The engine of these stacks fails a container labelled so at that step (failpoints.ts).
    await expect(runAttached(s, ['true'], { autoRemove: true }, { 'berth.test.failpoint': 'start' })).rejects.toThrow(/start/);
    expect((await s.berth(['ps', '-aq'])).stdout).toBe('');
  });

  it('the CLI\'s foreground run whose start fails ends with the start\'s error, not a wait for an exit that never comes', async () => {
    // After `created` the CLI tells a failed start (the container never ran) from a stream that broke mid-run.
    const name = `bt-ra-failstart-${s.tag}`;
    const kept = await s.berth(['run', '--name', name, '--label', 'berth.test.failpoint=start', '--network', 'none', 'busybox', 'true']);
    expect(kept.code, kept.stderr).toBe(125);
    expect(kept.stderr).toMatch(/start/);
    expect(kept.stderr).not.toMatch(/output may be incomplete/);
    expect((await s.berth(['inspect', '--format', '{{.State.Status}}', name])).stdout.trim()).toBe('created');
    expect((await s.berth(['rm', name])).code).toBe(0);
    const removed = await s.berth(['run', '--rm', '--label', 'berth.test.failpoint=start', '--network', 'none', 'busybox', 'true']);
    expect(removed.code, removed.stderr).toBe(125);
    expect(removed.stderr).toMatch(/start/);
    expect((await s.berth(['ps', '-aq'])).stdout).toBe('');
  });

  it('run --rm ... | head -1: the CLI ends quietly and the engine removes the container', async () => {
    const child = spawn('/bin/sh', ['-c', `"${process.execPath}" "${BERTH_BIN}" run --rm busybox seq 100000 | head -1`], { env: s.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('1');
    expect(stderr).toBe('');
    // The container finishes its seq on its own, then the engine removes it.
    await until('the --rm container removed', async () => ((await s.berth(['ps', '-aq'])).stdout === '' ? true : undefined), 60_000);
  }, 90_000);

  it('the CLI\'s foreground run prints the output and the exit code of quick commands, leaving nothing', async () => {
    const runs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => s.berth(['run', '--rm', 'busybox', 'sh', '-c', `echo cli-${i}; exit ${i}`])));
    runs.forEach((r, i) => expect(r, r.stderr).toEqual({ code: i, stdout: `cli-${i}\n`, stderr: '' }));
    expect((await s.berth(['ps', '-aq'])).stdout).toBe('');
  }, 90_000);

  it('the CLI\'s foreground run -i sends a stdin of several MiB whole and in order, paced by the HTTP/2 windows', async () => {
    // 3 MiB: many times the engine's stream and connection windows (64 KiB) and frame size (16 KiB).
    const input = Array.from({ length: 96 * 1024 }, (_, i) => `${i.toString(16).padStart(31, '0')}\n`).join('');
    const r = await s.berth(['run', '--rm', '-i', '--network', 'none', 'busybox', 'md5sum'], { input, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${createHash('md5').update(input).digest('hex')}  -\n`);
  }, 180_000);

  it('inspect shows HostConfig.AutoRemove', async () => {
    const r = await s.berth(['run', '-d', '--rm', 'busybox', 'sleep', '30']);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    try {
      expect((await s.berth(['inspect', '--format', '{{.HostConfig.AutoRemove}}', id])).stdout.trim()).toBe('true');
    } finally {
      await s.berth(['rm', '-f', id]);
    }
  });
});
