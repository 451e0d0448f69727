// Seccomp on the real stack (issue 12): a default `berth run` container runs
// under Docker's default profile, in its init and in every exec, and
// `--security-opt` chooses another (unconfined, a custom file) or adds
// no_new_privs. The probes are native/test-probe/confinement-probe.c, built
// here and copied into each container with `berth cp`; each prints
// "<probe>: ok" or "<probe>: EPERM (...)".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const SUBNET = 238; // 10.219.238.0/24: this file's
const NATIVE = resolve(__dirname, '..', 'native');
const PROBE = join(NATIVE, 'build', 'confinement-probe');
/** What the default profile must refuse, and what the probe prints for each when it is refused. */
const REFUSED = {
  add_key: 'add_key: EPERM',
  keyctl: 'keyctl: EPERM',
  perf_event_open: 'perf_event_open: EPERM',
  personality: 'personality: EPERM',
  // unshare(CLONE_NEWUSER) is refused, so the cgroup2 mount is never tried.
  'userns-cgroup2': 'unshare: EPERM',
} as const;
const ALLOWED = {
  add_key: 'add_key: ok',
  keyctl: 'keyctl: ok',
  perf_event_open: 'perf_event_open: ok',
  personality: 'personality: ok',
  'userns-cgroup2': 'mount cgroup2: ok',
} as const;
const PROBES = Object.keys(REFUSED);

const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

describe('seccomp', () => {
  let s: CliStack;
  let dir: string;
  const berth = (...args: string[]) => s.berth(args);
  const names: string[] = [];
  let n = 0;
  const nameOf = (what: string) => {
    const name = `sc-${what}-${++n}`;
    names.push(name);
    return name;
  };

  /** Creates a container with `opts`, copies the probe in, and runs every probe in it (one line each). */
  async function probeAll(opts: string[]): Promise<{ name: string; lines: string[] }> {
    const name = nameOf('probe');
    const script = PROBES.map((p) => `/probe ${p}`).join('; ');
    expectOk(await berth('create', '--name', name, '--network', 'none', ...opts, 'busybox', 'sh', '-c', script));
    expectOk(await berth('cp', PROBE, `${name}:/probe`));
    const r = await berth('start', '-a', name);
    return { name, lines: r.stdout.split('\n').filter(Boolean) };
  }

  const statusLine = (out: string, key: string) => out.split('\n').find((l) => l.startsWith(`${key}:`))?.replace(/\s+/g, ' ');

  beforeAll(async () => {
    const b = spawnSync('make', ['-s', '-C', NATIVE, 'build/confinement-probe', 'build/berth-shim'], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`building the probe failed:\n${b.stdout}${b.stderr}`);
    dir = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
    s = await startCliStack(false, SUBNET);
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 180_000);

  afterAll(async () => {
    if (s) {
      for (const name of names) await berth('rm', '-f', name);
      await s.stop();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it("refuses the keyring, perf_event_open, personality(READ_IMPLIES_EXEC) and unshare(CLONE_NEWUSER) with EPERM under the default profile; seccomp=unconfined allows them", async () => {
    const confined = await probeAll([]);
    for (const [i, p] of PROBES.entries()) expect(confined.lines[i], p).toMatch(new RegExp(`^${REFUSED[p as keyof typeof REFUSED]} `));
    expect((await berth('inspect', '--format', '{{.SeccompProfile}} {{json .HostConfig.SecurityOpt}}', confined.name)).stdout.trim()).toBe('default null');

    const unconfined = await probeAll(['--security-opt', 'seccomp=unconfined']);
    expect(unconfined.lines).toEqual(PROBES.map((p) => ALLOWED[p as keyof typeof ALLOWED]));
    expect((await berth('inspect', '--format', '{{.SeccompProfile}} {{json .HostConfig.SecurityOpt}}', unconfined.name)).stdout.trim())
      .toBe('unconfined ["seccomp=unconfined"]');
  });

  it('filters the init and every exec (Seccomp: 2), and none with seccomp=unconfined', async () => {
    const name = nameOf('status');
    expectOk(await berth('run', '-d', '--name', name, '--network', 'none', 'busybox', 'sleep', '600'));
    const init = await berth('exec', name, 'cat', '/proc/1/status');
    expectOk(init);
    expect(statusLine(init.stdout, 'Seccomp')).toBe('Seccomp: 2');
    expect(statusLine(init.stdout, 'NoNewPrivs')).toBe('NoNewPrivs: 0');
    const exec = await berth('exec', name, 'cat', '/proc/self/status');
    expect(statusLine(exec.stdout, 'Seccomp')).toBe('Seccomp: 2');
    // The exec'd process is under the same filter: unshare(CLONE_NEWUSER) is refused there too.
    expectOk(await berth('cp', PROBE, `${name}:/probe`));
    const probe = await berth('exec', name, '/probe', 'userns-cgroup2');
    expect(probe.code).toBe(1);
    expect(probe.stdout).toMatch(/^unshare: EPERM /);

    const free = nameOf('status');
    expectOk(await berth('run', '-d', '--name', free, '--network', 'none', '--security-opt', 'seccomp=unconfined', 'busybox', 'sleep', '600'));
    expect(statusLine((await berth('exec', free, 'cat', '/proc/1/status')).stdout, 'Seccomp')).toBe('Seccomp: 0');
    expect(statusLine((await berth('exec', free, 'cat', '/proc/self/status')).stdout, 'Seccomp')).toBe('Seccomp: 0');
  });

  it('runs a --privileged container without a filter, whatever --security-opt says', async () => {
    const name = nameOf('priv');
    const r = await berth('run', '--name', name, '--network', 'none', '--privileged', '--security-opt', 'seccomp=builtin', 'busybox', 'cat', '/proc/self/status');
    expectOk(r);
    expect(statusLine(r.stdout, 'Seccomp')).toBe('Seccomp: 0');
    expect((await berth('inspect', '--format', '{{.SeccompProfile}}', name)).stdout.trim()).toBe('unconfined');
    // And its exec'd processes (privileged too, as Docker's): no filter either.
    const running = nameOf('priv');
    expectOk(await berth('run', '-d', '--name', running, '--network', 'none', '--privileged', 'busybox', 'sleep', '600'));
    const exec = await berth('exec', running, 'cat', '/proc/self/status');
    expectOk(exec);
    expect(statusLine(exec.stdout, 'Seccomp')).toBe('Seccomp: 0');
  });

  it('applies a custom profile file (here: mkdir refused, the rest allowed) to the init and to exec', async () => {
    const profile = join(dir, 'no-mkdir.json');
    writeFileSync(profile, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    }, null, 2));
    const name = nameOf('custom');
    const r = await berth('run', '--name', name, '--network', 'none', '--security-opt', `seccomp=${profile}`, 'busybox',
      'sh', '-c', 'touch /tmp/file && echo TOUCHED; mkdir /tmp/dir && echo MADE || echo REFUSED');
    expectOk(r);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['TOUCHED', 'REFUSED']);
    expect(r.stderr).toContain('Operation not permitted');
    const shown = (await berth('inspect', '--format', '{{.SeccompProfile}} {{json .HostConfig.SecurityOpt}}', name)).stdout.trim();
    // As Docker: the profile's content travels (and shows), not the client's path.
    expect(shown).toMatch(/^custom \["seccomp=\{\\"defaultAction\\":\\"SCMP_ACT_ALLOW\\"/);
    expect(shown).not.toContain(profile);

    const running = nameOf('custom');
    expectOk(await berth('run', '-d', '--name', running, '--network', 'none', '--security-opt', `seccomp=${profile}`, 'busybox', 'sleep', '600'));
    const mk = await berth('exec', running, 'mkdir', '/tmp/from-exec');
    expect(mk.code).toBe(1);
    expect(mk.stderr).toContain('Operation not permitted');
  });

  it('sets no_new_privs with no-new-privileges (every form Docker takes), for the init and exec', async () => {
    for (const [opt, want] of [['no-new-privileges', '1'], ['no-new-privileges:true', '1'], ['no-new-privileges=true', '1'], ['no-new-privileges=false', '0']] as const) {
      const name = nameOf('nnp');
      expectOk(await berth('run', '-d', '--name', name, '--network', 'none', '--security-opt', opt, 'busybox', 'sleep', '600'));
      expect(statusLine((await berth('exec', name, 'cat', '/proc/1/status')).stdout, 'NoNewPrivs'), opt).toBe(`NoNewPrivs: ${want}`);
      const exec = await berth('exec', name, 'cat', '/proc/self/status');
      expect(statusLine(exec.stdout, 'NoNewPrivs'), `${opt} (exec)`).toBe(`NoNewPrivs: ${want}`);
      expect(statusLine(exec.stdout, 'Seccomp'), opt).toBe('Seccomp: 2');
      expect((await berth('inspect', '--format', '{{json .HostConfig.SecurityOpt}}', name)).stdout.trim()).toBe(JSON.stringify([opt]));
    }
  });

  it('refuses bad options and profiles with an error naming the part, leaving no container behind', async () => {
    const badProfile = join(dir, 'bad-op.json');
    writeFileSync(badProfile, JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ALMOST' }] }] }));
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ "defaultAction": ');
    const cases: [string, RegExp][] = [
      ['bogus', /invalid --security-opt "bogus"/],
      ['no-new-privileges=maybe', /"maybe" is not a boolean/],
      ['seccomp=/no/such/profile.json', /security-opt.*cannot read the seccomp profile/],
      [`seccomp=${notJson}`, /not valid JSON/],
      [`seccomp=${badProfile}`, /seccomp profile: syscalls\[0\]\.args\[0\]\.op: unknown value "SCMP_CMP_ALMOST"/],
      ['apparmor=docker-default', /no AppArmor profiles/],
    ];
    for (const [opt, re] of cases) {
      const name = `sc-bad-${++n}`;
      const r = await berth('run', '--name', name, '--security-opt', opt, 'busybox', 'true');
      expect(r.code, opt).toBe(125);
      expect(r.stderr, opt).toMatch(re);
      expect((await berth('inspect', name)).code, `${opt}: nothing left behind`).not.toBe(0);
    }
    // The engine checks too (a client that skips the CLI's checks): the same
    // error, from the create call itself.
    await expect(s.engine.CreateContainer({ name: 'sc-bad-api', config: { image: 'busybox', cmd: { values: ['true'] } }, hostConfig: { securityOpt: ['seccomp=/a/path'] } }))
      .rejects.toThrow(/invalid --security-opt "seccomp=\/a\/path"/);
  });
});
