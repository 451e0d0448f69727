// Runtime + berth-monitor against the test double of the shim
// (testing/fake-shim.py): the monitor's process handling, logging, attach,
// exec and restart recovery, without namespaces. runtime.test.ts runs the
// lifecycle against the real berth-shim.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Runtime, type ShimBinding } from './index';

interface FakeSpec { args: string[]; fail?: string }
const fakeShim: ShimBinding<FakeSpec, FakeSpec> = {
  path: resolve(__dirname, 'testing/fake-shim.py'),
  writeConfig: (dir, spec) => writeFileSync(join(dir, 'mockcmd'), JSON.stringify(spec)),
  writeExecConfig: (path, proc) => writeFileSync(path, JSON.stringify(proc)),
};

let base: string;
let rt: Runtime<FakeSpec, FakeSpec>;
const made: string[] = [];

function newRuntime() {
  return new Runtime<FakeSpec, FakeSpec>({ root: join(base, 'root'), runDir: join(base, 'run'), logDir: join(base, 'logs'), shim: fakeShim });
}

beforeAll(() => {
  execFileSync('make', ['-C', resolve(__dirname, '../../../native'), 'build/berth-monitor'], { stdio: 'ignore' });
});

beforeEach(() => {
  base = mkdtempSync('/tmp/berth-rt-');
  mkdirSync(join(base, 'root'));
  rt = newRuntime();
});

afterEach(async () => {
  for (const id of made.splice(0)) {
    try {
      await rt.delete(id, { force: true });
    } catch {
      // already deleted by the test
    }
  }
  rt.close();
  rmSync(base, { recursive: true, force: true });
});

async function create(id: string, spec: FakeSpec, opts = {}) {
  made.push(id);
  return rt.create(id, spec, opts);
}

describe('Runtime with the fake shim', () => {
  it('creates, starts, waits; logs stdout and stderr in CRI format', async () => {
    const { pid } = await create('c1', { args: ['sh', '-c', 'echo out; echo err >&2; printf part; exit 3'] });
    expect(pid).toBeGreaterThan(0);
    expect(rt.state('c1').status).toBe('created');
    await rt.start('c1');
    const exit = await rt.wait('c1');
    expect(exit).toMatchObject({ exitCode: 3, signal: null, oomKilled: null });
    expect(rt.state('c1').status).toBe('stopped');
    const log = readFileSync(join(base, 'logs', 'c1.log'), 'utf8');
    const lines = log.split('\n').filter(Boolean);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [PF] /);
    expect(lines.map((l) => l.slice(31))).toEqual(expect.arrayContaining(['stdout F out', 'stderr F err', 'stdout P part']));
  });

  it('reports the shim error line when create fails and leaves nothing', async () => {
    await expect(rt.create('bad', { args: ['true'], fail: 'rootfs /nope: ENOENT' })).rejects.toMatchObject({
      code: 'FailedPrecondition',
      message: 'berth-shim: rootfs /nope: ENOENT',
    });
    expect(existsSync(join(base, 'root', 'bad'))).toBe(false);
    await expect(create('dup', { args: ['sleep', '10'] })).resolves.toBeTruthy();
    await expect(rt.create('dup', { args: ['true'] })).rejects.toMatchObject({ code: 'AlreadyExists' });
    expect(() => rt.state('nope')).toThrow(expect.objectContaining({ code: 'NotFound' }));
  });

  it('reports death by signal as 128+n and the signal name; stop escalates to SIGKILL', async () => {
    await create('sig', { args: ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'] });
    await rt.start('sig');
    await until(() => (readOptional(join(base, 'logs', 'sig.log')) ?? '').includes('ready')); // SIGTERM is ignored from now
    const t0 = Date.now();
    const exit = await rt.stop('sig', 300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(exit).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('attaches: live output, stdin, EOF on close', async () => {
    await create('cat', { args: ['cat'] }, { stdin: true });
    const a = await rt.attach('cat');
    await rt.start('cat');
    let got = '';
    a.stdout.on('data', (d: Buffer) => (got += d.toString()));
    a.stdin.write('hello monitor\n');
    await until(() => got.includes('hello monitor\n'));
    a.stdin.end(); // CLOSE_STDIN: cat sees EOF and exits 0
    expect(await a.exit).toMatchObject({ exitCode: 0 });
    expect(await rt.wait('cat')).toMatchObject({ exitCode: 0 });
  });

  it('drives a shell on a pty and resizes it', async () => {
    await create('tty', { args: ['sh'] }, { terminal: true });
    const a = await rt.attach('tty');
    await rt.start('tty');
    let got = '';
    a.stdout.on('data', (d: Buffer) => (got += d.toString()));
    a.resize(123, 45);
    a.stdin.write('echo hi-$((40+2))\n');
    await until(() => got.includes('hi-42'));
    a.stdin.write('stty size\n');
    await until(() => got.includes('45 123'));
    a.stdin.write('exit 7\n');
    expect(await a.exit).toMatchObject({ exitCode: 7 });
  });

  it('runs exec processes: output, exit code recorded, reaped', async () => {
    await create('ex', { args: ['sleep', '30'] });
    await rt.start('ex');
    const p = await rt.exec('ex', 'e1', { args: ['sh', '-c', 'echo from-exec; echo oops >&2; exit 5'] });
    const [exit, out, err] = await Promise.all([p.io.exit, text(p.io.stdout), text(p.io.stderr)]);
    expect(exit).toMatchObject({ exitCode: 5 });
    expect(out).toBe('from-exec\n');
    expect(err).toBe('oops\n');
    expect(await rt.waitExec('ex', 'e1')).toMatchObject({ exitCode: 5 });
    expect(existsSync(`/proc/${p.pid}`)).toBe(false);
    await expect(rt.exec('ex', 'e1', { args: ['true'] })).rejects.toMatchObject({ code: 'AlreadyExists' });
    await expect(rt.exec('ex', 'e2', { args: ['true'], fail: 'no such user' })).rejects.toMatchObject({ message: expect.stringContaining('berth-shim: no such user') });
  });

  it('rotates the CRI log by size and count', async () => {
    await create('rot', { args: ['sh', '-c', 'i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done'] }, { logMaxSize: 2000, logMaxFiles: 3 });
    await rt.start('rot');
    await rt.wait('rot');
    const files = readdirSync(join(base, 'logs')).sort();
    expect(files).toEqual(['rot.log', 'rot.log.1', 'rot.log.2']);
    for (const f of files) expect(readFileSync(join(base, 'logs', f)).length).toBeLessThanOrEqual(2000);
    expect(readFileSync(join(base, 'logs', 'rot.log'), 'utf8')).toContain('stdout F line-399\n');
    await rt.delete('rot');
    expect(readdirSync(join(base, 'logs'))).toEqual([]);
  });

  it('survives the driver: a second Runtime finds the running container and its later exit', async () => {
    await create('keep', { args: ['sh', '-c', 'read x; exit 9'] }, { stdin: true });
    await rt.start('keep');
    rt.close(); // the first driver "dies"
    const rt2 = newRuntime();
    try {
      const found = rt2.recover();
      expect(found).toEqual([expect.objectContaining({ id: 'keep', status: 'running', exit: null })]);
      const w = rt2.wait('keep');
      const a = await rt2.attach('keep');
      a.stdin.write('go\n');
      expect(await w).toMatchObject({ exitCode: 9 });
      a.close();
    } finally {
      rt2.close();
    }
    // ...and one created after the exit reports it from the exit file.
    const rt3 = newRuntime();
    expect(rt3.recover()).toEqual([expect.objectContaining({ id: 'keep', status: 'stopped', exit: expect.objectContaining({ exitCode: 9 }) })]);
    expect(await rt3.wait('keep')).toMatchObject({ exitCode: 9 });
    rt3.close();
  });

  it('refuses to delete a running container unless forced', async () => {
    await create('del', { args: ['sleep', '30'] });
    await rt.start('del');
    await expect(rt.delete('del')).rejects.toMatchObject({ code: 'FailedPrecondition' });
    const monitorPid = rt.state('del').monitorPid!;
    await rt.delete('del', { force: true });
    expect(existsSync(join(base, 'root', 'del'))).toBe(false);
    expect(readOptional(`/proc/${monitorPid}/stat`)?.split(' ')[2] ?? 'gone').toMatch(/gone|Z/);
    expect(() => rt.state('del')).toThrow(expect.objectContaining({ code: 'NotFound' }));
  });

  it('leaks nothing over 200 create/delete cycles (fds, mounts, processes)', async () => {
    // One cycle first so lazily opened things (koffi, sockets) are in the baseline.
    await create('warm', { args: ['sleep', '30'] });
    await rt.delete('warm');
    const before = leakCounters(base);
    for (let i = 0; i < 200; i++) {
      await rt.create(`l${i}`, { args: ['sleep', '30'] });
      if (i % 2) await rt.start(`l${i}`);
      await rt.delete(`l${i}`, { force: true });
    }
    const after = leakCounters(base);
    expect(after).toEqual(before);
    expect(readdirSync(join(base, 'root'))).toEqual([]);
  }, 120_000);

  it('keeps an idle monitor small', async () => {
    await create('rss', { args: ['sleep', '30'] }, { terminal: true });
    await rt.start('rss');
    const a = await rt.attach('rss'); // one attach client connected
    await new Promise((r) => setTimeout(r, 200));
    const m = monitorMemory(rt.state('rss').monitorPid!);
    console.log(`berth-monitor idle memory: VmRSS ${m.vmRssKiB} KiB, Pss ${m.pssKiB} KiB, private ${m.privateKiB} KiB (1 attach client, pty)`);
    a.close();
    // Private pages are what each further container costs; VmRSS also counts
    // libc pages shared with every other process (see docs/design/monitor.md).
    expect(m.privateKiB).toBeLessThanOrEqual(1024);
  });

  it('fails with FailedPrecondition when the root is missing', async () => {
    const r = new Runtime<FakeSpec, FakeSpec>({ root: join(base, 'nope'), runDir: base, logDir: base, shim: fakeShim });
    await expect(r.create('x', { args: ['true'] })).rejects.toMatchObject({ code: 'FailedPrecondition' });
  });
});

/** Things a create/delete cycle could leak, as seen from this process and the host. */
function leakCounters(base: string) {
  const procs = readdirSync('/proc').filter((n) => /^\d+$/.test(n) && (readOptional(`/proc/${n}/cmdline`) ?? '').includes(base)).length;
  return {
    fds: readdirSync('/proc/self/fd').length,
    // Only mounts under this test's dir: others' tests mount and unmount
    // elsewhere on this shared machine at the same time.
    mounts: (readOptional('/proc/self/mountinfo') ?? '').split('\n').filter((l) => l.includes(base)).length,
    procs,
  };
}

function monitorMemory(pid: number) {
  const status = readOptional(`/proc/${pid}/status`) ?? '';
  const rollup = readOptional(`/proc/${pid}/smaps_rollup`) ?? '';
  const kib = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return {
    vmRssKiB: kib(status, 'VmRSS'),
    pssKiB: kib(rollup, 'Pss'),
    privateKiB: kib(rollup, 'Private_Clean') + kib(rollup, 'Private_Dirty'),
  };
}

function readOptional(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += chunk.toString();
  return s;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 10));
  }
}
