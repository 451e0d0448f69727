// A stack that heals itself: the supervisor `berth daemon up` starts brings
// back a service killed with SIGKILL (split: one process per service;
// all-in-one: berthd), with nobody running anything; and `daemon up` on a
// stack that is partly down starts only what is missing, in the layout it
// runs in. Waits are for health (SERVING on the socket), never fixed sleeps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { readDaemonRecord, supervisorScript } from '@berth/daemon';
import { GRPC_SERVICE, socketPath, waitServing, type ServiceName } from '@berth/kit';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const pidsOf = (s: CliStack) => Object.fromEntries(readDaemonRecord(s.paths)!.processes.map((p) => [p.name, p.pid]));

/** Kills `pid` with SIGKILL and waits until it is gone. */
async function killHard(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await until(`pid ${pid} gone`, () => (alive(pid) ? undefined : true), 10_000);
}

/** The record names a live process for `name` other than `old`, and `services` answer SERVING. */
async function restarted(s: CliStack, name: string, old: number, services: readonly ServiceName[]): Promise<number> {
  const pid = await until(`${name} started again`, () => {
    const p = pidsOf(s)[name];
    return p && p !== old && alive(p) ? p : undefined;
  }, 30_000);
  await Promise.all(services.map((svc) => waitServing([`unix:${socketPath(svc, s.paths)}`], GRPC_SERVICE[svc], 60_000)));
  return pid;
}

describe('a split stack heals itself', () => {
  let s: CliStack;
  beforeAll(async () => {
    s = await startCliStack(true, 61);
    await until('busybox image', async () => ((await s.berth(['image', 'inspect', 'busybox'])).code === 0 ? true : undefined), 30_000);
  }, 150_000);
  afterAll(async () => {
    await s?.stop();
  }, 120_000);

  it('restarts a service killed with SIGKILL by itself; the next run succeeds', async () => {
    for (const name of ['engine', 'namespaces'] as const) {
      const old = pidsOf(s)[name]!;
      await killHard(old);
      await restarted(s, name, old, [name]);
      s.reconnect();
      const r = await s.berth(['run', '--rm', 'busybox', 'echo', `after ${name}`]);
      expectOk(r);
      expect(r.stdout).toBe(`after ${name}\n`);
    }
    const status = await s.berth(['daemon', 'status']);
    expectOk(status);
    expect(status.stdout).toMatch(/restarts: .*engine 1/);
    expect((await s.berth(['ps', '-aq'])).stdout).toBe('');
  }, 180_000);

  it('a foreground run whose output stream breaks (namespaces killed mid-run) still ends with its exit code and output', async () => {
    for (const rm of [false, true]) {
      const name = `bt-heal-run-${rm ? 'rm' : 'keep'}-${s.tag}`;
      // Prints one line, then waits for /go (made below, once the stream broke) and prints the second.
      const run = s.spawnBerth(['run', ...(rm ? ['--rm'] : []), '--name', name, '--network', 'none', 'busybox', 'sh', '-c',
        'echo one; while [ ! -e /go ]; do sleep 0.1; done; echo two; exit 7']);
      await until('first line', () => (run.stdout() === 'one\n' ? true : undefined), 60_000);
      const old = pidsOf(s).namespaces!;
      await killHard(old);
      await restarted(s, 'namespaces', old, ['namespaces', 'engine']);
      await until('/go made', async () => ((await s.berth(['exec', name, 'touch', '/go'])).code === 0 ? true : undefined), 60_000);
      const r = await run.result;
      expect(r.code, r.stderr).toBe(7);
      expect(r.stderr).toMatch(/output stream of [0-9a-f]{12} broke .*output may be incomplete/);
      // The second line came from the container's log, the first was not printed twice.
      expect(r.stdout).toBe('one\ntwo\n');
      if (rm) expect((await s.berth(['ps', '-aq', '--filter', `name=${name}`])).stdout).toBe('');
      else expectOk(await s.berth(['rm', name]));
    }
  }, 240_000);

  it('daemon up on a partly down stack starts only what is missing (the supervisor killed too)', async () => {
    const record = readDaemonRecord(s.paths)!;
    const before = pidsOf(s);
    await killHard(record.supervisorPid!);
    await killHard(before.networks!);
    const up = await s.berth(['daemon', 'up'], { timeoutMs: 120_000 });
    expectOk(up);
    expect(up.stdout).toContain('started networks');
    const after = pidsOf(s);
    for (const [name, pid] of Object.entries(before)) {
      if (name === 'networks') expect(after[name]).not.toBe(pid);
      else expect(after[name], name).toBe(pid);
    }
    const sup = readDaemonRecord(s.paths)!.supervisorPid!;
    expect(sup).not.toBe(record.supervisorPid);
    expect(alive(sup)).toBe(true);
    expect(readFileSync(`/proc/${sup}/cmdline`, 'utf8')).toContain(supervisorScript());
    // Up again with nothing missing: nothing to do.
    const again = await s.berth(['daemon', 'up', '--split'], { timeoutMs: 60_000 });
    expectOk(again);
    expect(again.stdout).toContain('already up');
    expect(pidsOf(s)).toEqual(after);
    s.reconnect();
    const r = await s.berth(['run', '--rm', 'busybox', 'echo', 'healed']);
    expectOk(r);
    expect(r.stdout).toBe('healed\n');
  }, 180_000);
});

describe('an all-in-one stack heals itself', () => {
  let s: CliStack;
  beforeAll(async () => {
    s = await startCliStack(false, 62);
    await until('busybox image', async () => ((await s.berth(['image', 'inspect', 'busybox'])).code === 0 ? true : undefined), 30_000);
  }, 150_000);
  afterAll(async () => {
    await s?.stop();
  }, 120_000);

  it('restarts berthd killed with SIGKILL; with the supervisor killed too, daemon up restarts it', async () => {
    const all = ['engine', 'namespaces', 'cgroups', 'layers', 'networks', 'images'] as const;
    const old = pidsOf(s).berthd!;
    await killHard(old);
    const pid = await restarted(s, 'berthd', old, all);
    s.reconnect();
    let r = await s.berth(['run', '--rm', 'busybox', 'echo', 'one']);
    expectOk(r);
    expect(r.stdout).toBe('one\n');

    await killHard(readDaemonRecord(s.paths)!.supervisorPid!);
    await killHard(pid);
    const up = await s.berth(['daemon', 'up'], { timeoutMs: 120_000 });
    expectOk(up);
    // Nothing of the stack was left: a fresh start of it.
    expect(up.stdout).toContain('berth stack up (all-in-one, 1 process)');
    expect(pidsOf(s).berthd).not.toBe(pid);
    const refused = await s.berth(['daemon', 'up', '--split'], { timeoutMs: 60_000 });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/all-in-one layout.*daemon down/);
    s.reconnect();
    r = await s.berth(['run', '--rm', 'busybox', 'echo', 'two']);
    expectOk(r);
    expect(r.stdout).toBe('two\n');
  }, 180_000);

  it('scores a container above its monitor and the services for the OOM killer', async () => {
    const r = await s.berth(['run', '-d', '--rm', 'busybox', 'sleep', '60']);
    expectOk(r);
    const id = r.stdout.trim();
    try {
      const pid = Number((await s.berth(['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim());
      const adj = (p: number) => Number(readFileSync(`/proc/${p}/oom_score_adj`, 'utf8').trim());
      const ppid = (p: number) => Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]);
      const monitor = ppid(pid);
      expect(readFileSync(`/proc/${monitor}/cmdline`, 'utf8')).toContain('berth-monitor');
      const service = pidsOf(s).berthd!;
      expect(adj(pid)).toBeGreaterThan(adj(monitor));
      expect(adj(pid)).toBeGreaterThan(adj(service));
      if (adj(service) === 0) {
        // This host refuses a negative oom_score_adj (no CAP_SYS_RESOURCE): the container is raised instead.
        expect(adj(monitor)).toBe(0);
        expect(adj(pid)).toBe(500);
      } else {
        expect(adj(service)).toBe(-500);
        expect(adj(monitor)).toBe(-999);
        expect(adj(pid)).toBe(0);
      }
    } finally {
      await s.berth(['rm', '-f', id]);
    }
  });
});
