// End-to-end tests of berth-shim (native/src/shim) and berth-init: real
// containers on a busybox rootfs, driven the way berth-monitor drives the
// shim (create with pipes as stdio, start, exec). This test process is a
// child subreaper, so each container's init is reparented to it when the
// shim exits and its exit status can be read (as the monitor does).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MNT, MS, mount, setChildSubreaper, umount, waitpidNoHang, type WaitStatus } from '@berth/sys';
import { DEFAULT_CAPABILITIES, ALL_CAPABILITIES, defaultSpec, defaultMounts as defaultMountsFor, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, withDefaults, type ContainerSpec, type ContainerSpecInput, type ProcessSpec } from './spec';
import { initBinaryPath, shimBinaryPath, writeExecConfig, writeShimConfig, type ShimConfigOptions } from './shim-config';
import { makeBusyboxRootfs, type BusyboxRootfs } from './testing/busybox-rootfs';
import { defaultProfile, resolveProfile, type LinuxSeccomp } from '@berth/seccomp';

const SHIM = shimBinaryPath();
const NATIVE = resolve(__dirname, '..', '..', '..', 'native');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a shim subcommand to its exit; output is what arrived by then. */
function runShim(args: string[]): Promise<Run & { child: ChildProcess; out: () => Run }> {
  const child = spawn(SHIM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res, rej) => {
    child.on('error', rej);
    // 'exit', not 'close': the container's init inherits the pipes and
    // keeps them open after the shim is gone.
    child.on('exit', (code) => {
      const out = () => ({ code, stdout, stderr });
      setImmediate(() => res({ ...out(), child, out }));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a reparented (or own) child to end and reaps it. */
async function waitExit(pid: number, timeoutMs = 10_000): Promise<WaitStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = waitpidNoHang(pid);
    if (s) return s;
    if (Date.now() > deadline) throw new Error(`process ${pid} did not exit within ${timeoutMs} ms`);
    await sleep(10);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Our children right now (zombies included), from /proc. */
function childrenOfUs(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

class Container {
  stdout = '';
  stderr = '';
  pid = 0;
  private constructor(readonly stateDir: string, readonly spec: ContainerSpec) {}

  static async create(spec: ContainerSpec, extra: string[] = [], opts: ShimConfigOptions = {}): Promise<{ container: Container; run: Run & { child: ChildProcess } }> {
    const stateDir = mkdtempSync(join(tmpdir(), 'berth-state-'));
    const c = new Container(stateDir, spec);
    await writeShimConfig(stateDir, spec, opts);
    const run = await runShim(['create', stateDir, ...extra]);
    run.child.stdout!.on('data', (d: Buffer) => (c.stdout += d.toString()));
    run.child.stderr!.on('data', (d: Buffer) => (c.stderr += d.toString()));
    c.stdout = run.stdout;
    c.stderr = run.stderr;
    if (run.code === 0) c.pid = Number(readFileSync(join(stateDir, 'pid'), 'utf8'));
    return { container: c, run };
  }

  start(): Run {
    const r = spawnSync(SHIM, ['start', this.stateDir], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Exec'd processes are reparented to us when the shim exits; they must
   * be reaped, or the init, killed, cannot finish exiting (the kernel
   * holds a pid namespace's pid 1 until every task in it is reaped). */
  private execPids: number[] = [];

  async exec(p: ProcessSpec, extra: string[] = []): Promise<Run> {
    const id = Math.random().toString(36).slice(2);
    const cfg = join(this.stateDir, `exec-${id}`);
    const pidFile = extra.includes('--pid-file') ? extra[extra.indexOf('--pid-file') + 1]! : join(this.stateDir, `exec-${id}.pid`);
    await writeExecConfig(cfg, p);
    const r = await runShim(['exec', this.stateDir, cfg, ...(extra.includes('--pid-file') ? extra : [...extra, '--pid-file', pidFile])]);
    if (r.code === 0) this.execPids.push(Number(readFileSync(pidFile, 'utf8')));
    // The exec'd process keeps the pipes: wait for it to finish writing.
    await new Promise<void>((res) => (r.child.stdout!.readableEnded ? res() : r.child.stdout!.on('end', () => res())));
    return r.out();
  }

  /** Reaps an exec'd process (see execPids). */
  async reapExec(pid: number): Promise<WaitStatus> {
    this.execPids = this.execPids.filter((p) => p !== pid);
    return waitExit(pid);
  }

  async wait(timeoutMs?: number): Promise<WaitStatus> {
    return waitExit(this.pid, timeoutMs);
  }

  /** Kills and reaps the init (if any) and removes the state dir. */
  async destroy(): Promise<void> {
    if (this.pid > 0 && alive(this.pid)) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      for (const p of this.execPids) await waitExit(p).catch(() => undefined);
      await waitExit(this.pid);
    }
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** Creates, starts and waits for a container; returns its output and status. */
async function runContainer(spec: ContainerSpec, opts: ShimConfigOptions = {}): Promise<{ status: WaitStatus; stdout: string; stderr: string; container: Container }> {
  const { container, run } = await Container.create(spec, [], opts);
  try {
    expect(run.code, `create failed: ${run.stderr}`).toBe(0);
    expect(container.start().code).toBe(0);
    const status = await container.wait();
    await sleep(20); // let the pipes drain
    return { status, stdout: container.stdout, stderr: container.stderr, container };
  } finally {
    await container.destroy();
  }
}

function hostMountPoints(): Set<string> {
  return new Set(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[4]!));
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

let rootfs: BusyboxRootfs;
let userRootfs: BusyboxRootfs;
const spec = (input: Omit<ContainerSpecInput, 'root'> & { root?: ContainerSpecInput['root'] }): ContainerSpec =>
  withDefaults({ root: { path: rootfs.rootfs }, ...input });

beforeAll(() => {
  const b = spawnSync('make', ['-C', NATIVE, 'build/berth-shim', 'build/berth-init'], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`building berth-shim failed:\n${b.stdout}${b.stderr}`);
  setChildSubreaper(true);
  rootfs = makeBusyboxRootfs();
  userRootfs = makeBusyboxRootfs({ owner: 100000 });
});

afterAll(() => {
  rootfs?.cleanup();
  userRootfs?.cleanup();
});

describe('berth-shim create/start', () => {
  it('runs the command as pid 1 of its own pid namespace, with its own hostname, root and default capabilities', async () => {
    const script = 'ps -o pid,args; echo "--"; hostname; echo "--"; cat /proc/self/mountinfo; echo "--"; grep CapEff /proc/self/status';
    const { status, stdout, stderr } = await runContainer(spec({ process: { args: ['sh', '-c', script] }, hostname: 'berth-test-host' }));
    expect(status.code, stderr).toBe(0);
    const [ps, host, mountinfo, caps] = stdout.split('--\n');
    const procs = ps!.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    expect(procs.find((p) => p[0] === '1')?.slice(1).join(' ')).toBe(`sh -c ${script}`);
    // Only the shell and ps itself: no host process is visible.
    expect(procs.length).toBe(2);
    expect(host!.trim()).toBe('berth-test-host');

    const lines = mountinfo!.trim().split('\n').map((l) => l.split(' '));
    const rootLine = lines.find((l) => l[4] === '/');
    expect(rootLine?.[3]).toBe(rootfs.rootfs);
    const allowed = new Set(['/', '/proc', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev', '/dev/pts', '/sys', '/dev/mqueue', '/dev/shm', ...DEFAULT_MASKED_PATHS, ...DEFAULT_READONLY_PATHS]);
    const unexpected = lines.map((l) => l[4]!).filter((p) => !allowed.has(p));
    expect(unexpected).toEqual([]);
    // And none of the host's other mounts (e.g. its cgroup hierarchies).
    for (const p of hostMountPoints()) if (!allowed.has(p)) expect(lines.some((l) => l[4] === p)).toBe(false);

    const capEff = BigInt(`0x${caps!.trim().split(/\s+/)[1]}`);
    const want = DEFAULT_CAPABILITIES.reduce((m, c) => m | (1n << BigInt((ALL_CAPABILITIES as readonly string[]).indexOf(c))), 0n);
    expect(capEff.toString(16)).toBe(want.toString(16));
  });

  it('maps container root to host 100000 in a user namespace; that root cannot write a host-root file bound in', async () => {
    const hostFile = join(userRootfs.dir, 'host-owned');
    writeFileSync(hostFile, 'original\n', { mode: 0o644 });
    const s = withDefaults({
      root: { path: userRootfs.rootfs },
      process: { args: ['sh', '-c', 'cat /proc/self/uid_map; id -u; (echo pwned >> /host-owned) 2>/dev/null && echo WROTE || echo DENIED; (chmod 777 /host-owned) 2>/dev/null && echo CHMOD || echo NOCHMOD'] },
      mounts: [...withDefaults({ process: { args: ['x'] }, root: { path: '/' } }).mounts, { destination: '/host-owned', type: 'bind', source: hostFile, options: ['bind'] }],
      linux: {
        namespaces: [{ type: 'user' }, { type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'network' }],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
    });
    const { status, stdout, stderr } = await runContainer(s);
    expect(status.code, stderr).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => l.trim());
    expect(lines[0]!.split(/\s+/)).toEqual(['0', '100000', '65536']);
    expect(lines[1]).toBe('0');
    expect(lines[2]).toBe('DENIED');
    expect(lines[3]).toBe('NOCHMOD');
    expect(readFileSync(hostFile, 'utf8')).toBe('original\n');
  });

  it('exits 127 for a command that is not found and 126 for one that cannot be executed', async () => {
    const missing = await runContainer(spec({ process: { args: ['no-such-command'] } }));
    expect(missing.status.code).toBe(127);
    expect(missing.stderr).toContain('berth-shim: exec "no-such-command": No such file or directory');
    const notExec = await runContainer(spec({ process: { args: ['/etc/passwd'] } }));
    expect(notExec.status.code).toBe(126);
    expect(notExec.stderr).toContain('berth-shim: exec "/etc/passwd": Permission denied');
    // Found through PATH but not executable: 126 too (a later PATH entry
    // could still have won, so the search goes on past it).
    writeFileSync(join(rootfs.rootfs, 'bin', 'notexec'), 'data', { mode: 0o644 });
    writeFileSync(join(rootfs.rootfs, 'bin', 'noformat'), 'no shebang, not ELF\n', { mode: 0o755 });
    try {
      const inPath = await runContainer(spec({ process: { args: ['notexec'], env: ['PATH=/usr/bin:/bin'] } }));
      expect(inPath.status.code).toBe(126);
      expect(inPath.stderr).toContain('berth-shim: exec "notexec": Permission denied');
      const format = await runContainer(spec({ process: { args: ['noformat'], env: ['PATH=/bin'] } }));
      expect(format.status.code).toBe(126);
      expect(format.stderr).toContain('berth-shim: exec "noformat": Exec format error');
      // PATH comes from the process env: without /bin in it, sh is not found.
      const noPath = await runContainer(spec({ process: { args: ['sh', '-c', 'true'], env: ['PATH=/nowhere'] } }));
      expect(noPath.status.code).toBe(127);
    } finally {
      rmSync(join(rootfs.rootfs, 'bin', 'notexec'), { force: true });
      rmSync(join(rootfs.rootfs, 'bin', 'noformat'), { force: true });
    }
  });

  it('hides masked paths and makes readonly paths read-only', async () => {
    // Default masks over real /proc files, plus a directory and a file of
    // our own in the image.
    mkdirSync(join(rootfs.rootfs, 'etc', 'secret-dir'), { recursive: true });
    writeFileSync(join(rootfs.rootfs, 'etc', 'secret-dir', 'key'), 'k');
    writeFileSync(join(rootfs.rootfs, 'etc', 'secret-file'), 'secret');
    try {
      expect(readFileSync('/proc/interrupts', 'utf8').length).toBeGreaterThan(0);
      const script =
        'wc -c < /proc/interrupts; ls -A /etc/secret-dir | wc -l; wc -c < /etc/secret-file; ' +
        '(echo x > /etc/secret-dir/new) 2>/dev/null && echo WROTE || echo RO; ' +
        '(echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo WROTE || echo RO';
      const { status, stdout, stderr } = await runContainer(
        spec({ process: { args: ['sh', '-c', script] }, linux: { maskedPaths: [...DEFAULT_MASKED_PATHS, '/etc/secret-dir', '/etc/secret-file'] } }),
      );
      expect(status.code, stderr).toBe(0);
      expect(stdout.trim().split('\n').map((l) => l.trim())).toEqual(['0', '0', '0', 'RO', 'RO']);
    } finally {
      rmSync(join(rootfs.rootfs, 'etc', 'secret-dir'), { recursive: true, force: true });
      rmSync(join(rootfs.rootfs, 'etc', 'secret-file'), { force: true });
    }
  });

  it('applies user, groups, cwd (created), env, rlimits and no_new_privs', async () => {
    const script = 'id -u; id -G; pwd; echo "$GREETING"; ulimit -n; grep NoNewPrivs /proc/self/status; grep CapEff /proc/self/status';
    const { status, stdout, stderr } = await runContainer(
      spec({
        process: {
          args: ['sh', '-c', script],
          env: ['PATH=/bin', 'GREETING=hello\tworld'],
          cwd: '/work/dir',
          user: { uid: 1000, gid: 1000, additionalGids: [5, 20] },
          rlimits: [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }],
          noNewPrivileges: true,
        },
      }),
    );
    expect(status.code, stderr).toBe(0);
    expect(stdout.split('\n').map((l) => l.trim())).toEqual(['1000', '1000 5 20', '/work/dir', 'hello\tworld', '123', 'NoNewPrivs:\t1', 'CapEff:\t0000000000000000', '']);
  });

  it('keeps ambient capabilities for a non-root user', async () => {
    const cap = ['CAP_NET_BIND_SERVICE'];
    const { status, stdout, stderr } = await runContainer(
      spec({
        process: {
          args: ['sh', '-c', 'id -u; grep -E "^Cap(Eff|Prm|Amb|Bnd)" /proc/self/status'],
          user: { uid: 1000, gid: 1000 },
          capabilities: { bounding: cap, effective: cap, permitted: cap, inheritable: cap, ambient: cap },
        },
      }),
    );
    expect(status.code, stderr).toBe(0);
    expect(stdout.split('\n')).toEqual(['1000', 'CapPrm:\t0000000000000400', 'CapEff:\t0000000000000400', 'CapBnd:\t0000000000000400', 'CapAmb:\t0000000000000400', '']);
  });

  it('resolves mount destinations inside the root: an image symlink to a host path creates nothing on the host', async () => {
    const host = mkdtempSync(join(tmpdir(), 'berth-escape-'));
    symlinkSync(`${host}/target`, join(rootfs.rootfs, 'evil'));
    try {
      const { status, stdout, stderr } = await runContainer(
        spec({
          process: { args: ['sh', '-c', `grep -c " ${host}/target/sub " /proc/self/mountinfo`] },
          mounts: [...defaultSpec('/', ['x']).mounts, { destination: '/evil/sub', type: 'tmpfs', source: 'tmpfs' }],
        }),
      );
      expect(status.code, stderr).toBe(0);
      // Mounted where the link points *inside* the root...
      expect(stdout.trim()).toBe('1');
      expect(existsSync(join(rootfs.rootfs, host, 'target', 'sub'))).toBe(true);
      // ...and nothing was created through it on the host.
      expect(readdirSync(host)).toEqual([]);
    } finally {
      rmSync(join(rootfs.rootfs, 'evil'), { force: true });
      rmSync(join(rootfs.rootfs, 'tmp', host.split('/').pop()!), { recursive: true, force: true });
      rmSync(host, { recursive: true, force: true });
    }
  });

  it('populates /dev (nodes by mknod, or bound from the host in a user namespace) with the standard links', async () => {
    const script =
      'for d in null zero full random urandom tty; do stat -c "%n %F %t,%T" /dev/$d; done; ' +
      'for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done; ' +
      'head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo NULL-OK; stat -c "%a" /dev/shm; grep -q " /dev/mqueue mqueue " /proc/mounts && echo MQUEUE';
    const want = [
      '/dev/null character special file 1,3', '/dev/zero character special file 1,5', '/dev/full character special file 1,7',
      '/dev/random character special file 1,8', '/dev/urandom character special file 1,9', '/dev/tty character special file 5,0',
      'fd -> /proc/self/fd', 'stdin -> /proc/self/fd/0', 'stdout -> /proc/self/fd/1', 'stderr -> /proc/self/fd/2', 'ptmx -> pts/ptmx',
      '4', 'NULL-OK', '1777', 'MQUEUE', '',
    ];
    const plain = await runContainer(spec({ process: { args: ['sh', '-c', script] } }));
    expect(plain.status.code, plain.stderr).toBe(0);
    expect(plain.stdout.split('\n')).toEqual(want);
    const userns = await runContainer(
      withDefaults({
        root: { path: userRootfs.rootfs },
        process: { args: ['sh', '-c', script] },
        linux: {
          namespaces: [{ type: 'user' }, { type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }],
          uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
          gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        },
      }),
    );
    expect(userns.status.code, userns.stderr).toBe(0);
    expect(userns.stdout.split('\n')).toEqual(want);
  });

  it('passes only stdio to the container process (no shim fd leaks in)', async () => {
    // ls opens the directory it lists as fd 3.
    const { status, stdout, stderr } = await runContainer(spec({ process: { args: ['ls', '/proc/self/fd'] } }));
    expect(status.code, stderr).toBe(0);
    expect(stdout.trim().split(/\s+/)).toEqual(['0', '1', '2', '3']);
  });

  it('resets ignored signals and the signal mask the shim inherited', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'berth-state-'));
    let pid = 0;
    try {
      await writeShimConfig(stateDir, spec({ process: { args: ['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status'] } }));
      // sh's trap "" makes SIGPIPE and SIGHUP ignored across its exec of the shim.
      const shim = spawn('sh', ['-c', 'trap "" PIPE HUP; exec "$0" "$@"', SHIM, 'create', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      shim.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      shim.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      expect(await new Promise((res) => shim.on('exit', res))).toBe(0);
      pid = Number(readFileSync(join(stateDir, 'pid'), 'utf8'));
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^SigIgn:\s*0*1001$/m); // the shim code still has them
      expect(spawnSync(SHIM, ['start', stateDir]).status).toBe(0);
      expect((await waitExit(pid)).code).toBe(0);
      pid = 0;
      await sleep(20);
      expect(out).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    } finally {
      if (pid > 0 && alive(pid)) {
        process.kill(pid, 'SIGKILL');
        await waitExit(pid).catch(() => undefined);
      }
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('remounts the root read-only, writes sysctls, and can give a time namespace', async () => {
    const script =
      '(touch /newfile) 2>/dev/null && echo WROTE || echo RO; cat /proc/sys/net/ipv4/ip_forward; readlink /proc/self/ns/time; ' +
      '(echo x > /dev/shm/x) && echo SHM';
    const { status, stdout, stderr } = await runContainer(
      spec({
        root: { path: rootfs.rootfs, readonly: true },
        process: { args: ['sh', '-c', script] },
        linux: {
          namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'time' }],
          sysctl: { 'net.ipv4.ip_forward': '1' },
        },
      }),
    );
    expect(status.code, stderr).toBe(0);
    const [ro, fwd, timeNs, shm] = stdout.trim().split('\n');
    expect(ro).toBe('RO');
    expect(fwd).toBe('1');
    expect(timeNs).not.toBe(readlinkSync('/proc/self/ns/time'));
    expect(shm).toBe('SHM');
    expect(existsSync(join(rootfs.rootfs, 'newfile'))).toBe(false);
  });

  it('applies rootfsPropagation to the container\'s root', async () => {
    const rootLine = async (propagation: 'rprivate' | 'rshared' | 'rslave') => {
      const r = await runContainer(spec({ process: { args: ['awk', '$5 == "/"', '/proc/self/mountinfo'] }, linux: { rootfsPropagation: propagation } }));
      expect(r.status.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n')).toHaveLength(2);
      return r.stdout;
    };
    expect(await rootLine('rprivate')).not.toMatch(/shared:|master:/);
    expect(await rootLine('rshared')).toMatch(/ shared:\d+ /);
    expect(await rootLine('rslave')).not.toMatch(/shared:/);
  });

  it('rshared: a mount made in the container under a bind of a shared host mount reaches the host and back; rslave: only host to container; the root and other binds leak nothing; rshared from a private mount is refused', async () => {
    // src is its own mount, made rshared on the host, as kubelet does for a Bidirectional volume.
    const host = mkdtempSync(join(tmpdir(), 'berth-prop-'));
    const src = join(host, 'src');
    const etcDir = join(host, 'etc-like');
    mkdirSync(join(src, 'from-host'), { recursive: true });
    mkdirSync(join(src, 'from-container'), { recursive: true });
    mkdirSync(join(host, 'host-side'), { recursive: true });
    mkdirSync(etcDir);
    writeFileSync(join(host, 'host-side', 'marker'), 'host\n');
    const mounted: string[] = [];
    const caps = ['CAP_SYS_ADMIN', ...DEFAULT_CAPABILITIES];
    const run = (propagation: 'rshared' | 'rslave') => {
      const script = [
        'ls /vol/from-host',
        // A mount made in the container under the bind (the root's /etc, a directory only it has).
        'mount -t tmpfs -o size=64k made-in-container /vol/from-container && touch /vol/from-container/made-in-container',
        'mkdir -p /plain/sub && mount -t tmpfs -o size=64k plain-leak /plain/sub',
      ].join('; ');
      return spec({
        process: { args: ['sh', '-c', script], capabilities: { bounding: caps, effective: caps, permitted: caps } },
        mounts: [...defaultMountsFor(), { destination: '/vol', type: 'bind', source: src, options: ['rbind', propagation, 'rw'] }, { destination: '/plain', type: 'bind', source: etcDir, options: ['rbind', 'rw'] }],
        linux: { rootfsPropagation: propagation },
      });
    };
    try {
      mount(src, src, null, MS.BIND | MS.REC);
      mounted.push(src);
      mount(null, src, null, MS.SHARED | MS.REC);
      // A host mount under the bound path: the container sees it in both modes.
      mount(join(host, 'host-side'), join(src, 'from-host'), null, MS.BIND);
      mounted.unshift(join(src, 'from-host'));
      const before = hostMountPoints();
      // New host mounts under this test's paths (other tests' mounts come and go meanwhile).
      const leakedMounts = () => [...hostMountPoints()].filter((m) => !before.has(m) && [host, rootfs.rootfs].some((d) => m.startsWith(`${d}/`)));

      const shared = await runContainer(run('rshared'));
      expect(shared.status.code, shared.stderr).toBe(0);
      expect(shared.stdout).toBe('marker\n');
      expect(existsSync(join(src, 'from-container', 'made-in-container'))).toBe(true);
      umount(join(src, 'from-container'), MNT.DETACH);
      // The bind without a propagation option stayed private: /plain/sub is not on the host.
      expect(leakedMounts()).toEqual([]);

      const slave = await runContainer(run('rslave'));
      expect(slave.status.code, slave.stderr).toBe(0);
      expect(slave.stdout).toBe('marker\n');
      expect(existsSync(join(src, 'from-container', 'made-in-container'))).toBe(false);
      expect(leakedMounts()).toEqual([]);

      // rshared from a private host mount could never propagate: refused, naming the mount (Docker's check).
      mount(etcDir, etcDir, null, MS.BIND);
      mounted.unshift(etcDir);
      mount(null, etcDir, null, MS.PRIVATE);
      const refused = await Container.create(spec({
        process: { args: ['true'] },
        mounts: [...defaultMountsFor(), { destination: '/vol', type: 'bind', source: etcDir, options: ['rbind', 'rshared', 'rw'] }],
        linux: { rootfsPropagation: 'rshared' },
      }));
      await refused.container.destroy();
      expect(refused.run.code).not.toBe(0);
      expect(refused.run.stderr).toContain(`shared propagation needs bind source ${etcDir} on a shared mount, and ${etcDir} is not one`);
    } finally {
      for (const m of [join(src, 'from-container'), ...mounted]) {
        try {
          umount(m, MNT.DETACH);
        } catch {
          /* not mounted */
        }
      }
      rmSync(host, { recursive: true, force: true });
    }
  });

  it('start fails clearly when the container is not waiting', async () => {
    const { container, run } = await Container.create(spec({ process: { args: ['true'] } }));
    try {
      expect(run.code).toBe(0);
      expect(container.start().code).toBe(0);
      const again = container.start();
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^berth-shim: start: container is not waiting to start/);
      expect((await container.wait()).code).toBe(0);
    } finally {
      await container.destroy();
    }
    const { container: c2 } = await Container.create(spec({ process: { args: ['true'] } }));
    try {
      process.kill(c2.pid, 'SIGKILL');
      await c2.wait();
      const r = c2.start();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('its init exited');
    } finally {
      await c2.destroy();
    }
  });
});

// Node cannot receive SCM_RIGHTS; python3's socket.recv_fds can. The
// receiver prints the pty name it was sent, then everything read from the
// master until the container side closes.
const CONSOLE_RECEIVER = `
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
out = msg + b"\\n"
while True:
    try:
        d = os.read(fds[0], 4096)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.buffer.write(out)
`;

describe('berth-shim terminal', () => {
  it.each(['plain', 'user namespace'])('allocates a pty inside the container (%s), makes it stdio and /dev/console, and sends the master over --console-socket', async (kind) => {
    const args = ['sh', '-c', 'tty; stat -c %t,%T /dev/console; echo hi; exit 5'];
    const s =
      kind === 'plain'
        ? spec({ process: { args, terminal: true } })
        : withDefaults({
            root: { path: userRootfs.rootfs },
            process: { args, terminal: true },
            linux: {
              namespaces: [{ type: 'user' }, { type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }],
              uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
              gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
            },
          });
    const dir = mkdtempSync(join(tmpdir(), 'berth-console-'));
    const sock = join(dir, 'console.sock');
    const receiver = spawn('/usr/bin/python3', ['-c', CONSOLE_RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let got = '';
    receiver.stdout!.on('data', (d: Buffer) => (got += d.toString()));
    const done = new Promise<number | null>((res) => receiver.on('exit', res));
    let container: Container | undefined;
    try {
      for (let i = 0; i < 500 && !got.includes('listening'); i++) await sleep(10);
      expect(got).toContain('listening');
      const created = await Container.create(s, ['--console-socket', sock]);
      container = created.container;
      expect(created.run.code, created.run.stderr).toBe(0);
      expect(container.start().code).toBe(0);
      expect((await container.wait()).code).toBe(5);
      expect(await done).toBe(0);
      const lines = got.replace(/\r/g, '').split('\n');
      expect(lines.slice(1, 5)).toEqual(['/dev/pts/0', '/dev/pts/0', '88,0', 'hi']);
    } finally {
      if (receiver.exitCode === null) receiver.kill('SIGKILL');
      await container?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives an exec\'d process its own pty through --console-socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-console-'));
    const sock = join(dir, 'console.sock');
    const receiver = spawn('/usr/bin/python3', ['-c', CONSOLE_RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let got = '';
    receiver.stdout!.on('data', (d: Buffer) => (got += d.toString()));
    const done = new Promise<number | null>((res) => receiver.on('exit', res));
    const { container, run } = await Container.create(spec({ process: { args: ['sleep', '1000'] } }));
    try {
      expect(run.code, run.stderr).toBe(0);
      expect(container.start().code).toBe(0);
      for (let i = 0; i < 500 && !got.includes('listening'); i++) await sleep(10);
      const r = await container.exec(
        { args: ['sh', '-c', 'tty; echo exec-hi'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 }, terminal: true },
        ['--console-socket', sock],
      );
      expect(r.code, r.stderr).toBe(0);
      expect(await done).toBe(0);
      expect(got.replace(/\r/g, '').split('\n').slice(1, 4)).toEqual(['/dev/pts/0', '/dev/pts/0', 'exec-hi']);
    } finally {
      if (receiver.exitCode === null) receiver.kill('SIGKILL');
      await container.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a terminal without --console-socket', async () => {
    const { container, run } = await Container.create(spec({ process: { args: ['true'], terminal: true } }));
    try {
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^berth-shim: terminal: .*no --console-socket was given/);
    } finally {
      await container.destroy();
    }
  });
});

describe('berth-shim create failures', () => {
  async function expectCreateFails(s: ContainerSpec, message: RegExp): Promise<void> {
    const before = childrenOfUs();
    const { container, run } = await Container.create(s);
    try {
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(existsSync(join(container.stateDir, 'pid'))).toBe(false);
      expect(existsSync(join(container.stateDir, 'exec.fifo'))).toBe(false);
      expect(childrenOfUs().filter((p) => !before.includes(p) && p !== run.child.pid)).toEqual([]);
    } finally {
      await container.destroy();
    }
  }

  it('an init whose shim is killed half-way exits by itself', async () => {
    // The parent writes the init into a frozen freezer cgroup before
    // releasing it, so the init is held before any setup; killing the shim
    // then must make the init exit once it runs (EOF on the sync socket).
    const freezer = join('/sys/fs/cgroup/freezer', `berth-test-${Math.random().toString(36).slice(2, 10)}`);
    mkdirSync(freezer);
    const stateDir = mkdtempSync(join(tmpdir(), 'berth-state-'));
    let init = 0;
    try {
      writeFileSync(join(freezer, 'freezer.state'), 'FROZEN');
      await writeShimConfig(stateDir, spec({ process: { args: ['true'] }, linux: { cgroupsPaths: [freezer] } }));
      const shim = spawn(SHIM, ['create', stateDir], { stdio: 'ignore' });
      const exited = new Promise((res) => shim.on('exit', res));
      const procs = () => readFileSync(join(freezer, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean).map(Number);
      for (let i = 0; i < 500 && procs().length < 1; i++) await sleep(10);
      init = procs()[0]!;
      expect(init).toBeGreaterThan(0);
      shim.kill('SIGKILL');
      await exited;
      writeFileSync(join(freezer, 'freezer.state'), 'THAWED');
      expect((await waitExit(init)).code).toBe(1);
      init = 0;
      expect(existsSync(join(stateDir, 'pid'))).toBe(false);
    } finally {
      writeFileSync(join(freezer, 'freezer.state'), 'THAWED');
      if (init > 0 && alive(init)) {
        process.kill(init, 'SIGKILL');
        await waitExit(init).catch(() => undefined);
      }
      rmSync(stateDir, { recursive: true, force: true });
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(freezer);
          break;
        } catch {
          await sleep(20);
        }
      }
    }
  });

  it('names the mount that failed and leaves nothing behind', async () => {
    await expectCreateFails(
      spec({ process: { args: ['true'] }, mounts: [{ destination: '/mnt', type: 'nosuchfs', source: 'none' }] }),
      /^berth-shim: mount \/mnt \(type nosuchfs, source none\): No such device\n$/,
    );
  });

  it('names an rlimit that cannot be raised (no CAP_SYS_RESOURCE here)', async () => {
    await expectCreateFails(
      spec({ process: { args: ['true'], rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1 << 30 }] } }),
      /^berth-shim: rlimit RLIMIT_NOFILE \(soft 1024, hard 1073741824\): setrlimit.*: Operation not permitted/,
    );
  });

  it('names a negative oom_score_adj that cannot be set', async () => {
    await expectCreateFails(spec({ process: { args: ['true'], oomScoreAdj: -500 } }), /^berth-shim: oom-score-adj -500: write \/proc\/\d+\/oom_score_adj.*: Permission denied/);
  });
});

describe('berth-shim exec', () => {
  it('joins the running container: same pid namespace and filesystem, 126/127 on exec failure, pid file', async () => {
    const { container, run } = await Container.create(spec({ process: { args: ['sh', '-c', 'echo inside > /tmp/marker; exec sleep 1000'] } }));
    try {
      expect(run.code, run.stderr).toBe(0);
      expect(container.start().code).toBe(0);
      for (let i = 0; i < 200 && !container.stdout.includes('') && !existsSync(join(rootfs.rootfs, 'tmp', 'marker')); i++) await sleep(10);
      const pidFile = join(container.stateDir, 'exec.pid');
      const r = await container.exec(
        { args: ['sh', '-c', 'cat /tmp/marker; ps -o pid,args'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } },
        ['--pid-file', pidFile],
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('inside\n');
      expect(r.stdout).toMatch(/^\s*1 sleep 1000$/m);
      const execPid = Number(readFileSync(pidFile, 'utf8'));
      expect(execPid).toBeGreaterThan(0);
      expect((await container.reapExec(execPid)).code).toBe(0);

      const asUser = await container.exec({
        args: ['sh', '-c', 'id -u; id -G; pwd; echo "$X"; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; ulimit -n'],
        env: ['PATH=/bin', 'X=from exec'],
        cwd: '/tmp',
        user: { uid: 1000, gid: 1001, additionalGids: [7] },
        noNewPrivileges: true,
        rlimits: [{ type: 'RLIMIT_NOFILE', soft: 77, hard: 88 }],
      });
      expect(asUser.code, asUser.stderr).toBe(0);
      expect(asUser.stdout.split('\n')).toEqual(['1000', '1001 7', '/tmp', 'from exec', 'CapEff:\t0000000000000000', 'NoNewPrivs:\t1', '77', '']);
      const badCwd = await container.exec({ args: ['true'], env: [], cwd: '/no/such/dir', user: { uid: 0, gid: 0 } });
      expect(badCwd.code).toBe(1);
      expect(badCwd.stderr).toBe('berth-shim: cwd /no/such/dir: chdir: No such file or directory\n');

      const missing = await container.exec({ args: ['nope'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
      expect(missing.code).toBe(127);
      expect(missing.stderr).toBe('berth-shim: exec "nope": No such file or directory\n');
      const denied = await container.exec({ args: ['/etc/group'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
      expect(denied.code).toBe(126);
    } finally {
      await container.destroy();
      rmSync(join(rootfs.rootfs, 'tmp', 'marker'), { force: true });
    }
  });
});

describe('berth-shim namespaces and cgroups', () => {
  it('joins a namespace by path while creating the others, a new user namespace included', async () => {
    const { container: a, run } = await Container.create(spec({ process: { args: ['true'] } }));
    try {
      expect(run.code, run.stderr).toBe(0);
      const aNet = readlinkSync(`/proc/${a.pid}/ns/net`);
      const b = await runContainer(
        withDefaults({
          root: { path: userRootfs.rootfs },
          process: { args: ['sh', '-c', 'readlink /proc/self/ns/net; readlink /proc/self/ns/user; readlink /proc/self/ns/pid'] },
          linux: {
            namespaces: [{ type: 'network', path: `/proc/${a.pid}/ns/net` }, { type: 'user' }, { type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }],
            uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
            gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
          },
          // sysfs needs a network namespace owned by the container's user
          // namespace; the host's /sys is bound instead (read-only).
        }),
      );
      expect(b.status.code, b.stderr).toBe(0);
      const [net, user, pid] = b.stdout.trim().split('\n');
      expect(net).toBe(aNet);
      expect(user).not.toBe(readlinkSync('/proc/self/ns/user'));
      expect(pid).not.toBe(readlinkSync('/proc/self/ns/pid'));
      expect(pid).not.toBe(readlinkSync(`/proc/${a.pid}/ns/pid`));
    } finally {
      await a.destroy();
    }
  });

  it('puts the init in the configured cgroups before it runs, roots a cgroup namespace there, and exec joins them', async () => {
    const name = `berth-test-${Math.random().toString(36).slice(2, 10)}`;
    // v1 hierarchies and the hybrid layout's cgroup2 (unified) one.
    const dirs = ['pids', 'memory', 'unified'].map((h) => join('/sys/fs/cgroup', h, name));
    for (const d of dirs) mkdirSync(join(d, 'c1'), { recursive: true });
    const leaves = dirs.map((d) => join(d, 'c1'));
    let container: Container | undefined;
    try {
      const created = await Container.create(
        spec({
          process: { args: ['sh', '-c', 'grep -E "^(0::|[0-9]+:(pids|memory):)" /proc/self/cgroup; exec sleep 1000'] },
          linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'cgroup' }], cgroupsPaths: leaves },
        }),
      );
      container = created.container;
      expect(created.run.code, created.run.stderr).toBe(0);
      // In them already at create, before start.
      for (const l of leaves) expect(readFileSync(join(l, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(container.pid));
      expect(container.start().code).toBe(0);
      for (let i = 0; i < 300 && container.stdout.split('\n').length < 4; i++) await sleep(10);
      expect(container.stdout.split('\n').map((l) => l.replace(/^\d+:/, '')).sort()).toEqual(['', ':/', 'memory:/', 'pids:/']);
      const r = await container.exec({ args: ['sh', '-c', 'grep -E "^(0::|[0-9]+:(pids|memory):)" /proc/self/cgroup'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n').map((l) => l.replace(/^\d+:/, '')).sort()).toEqual(['', ':/', 'memory:/', 'pids:/']);
      // Outside the container's cgroups the lines would read /.. paths,
      // not the namespace root.
    } finally {
      await container?.destroy();
      for (const d of dirs) {
        for (let i = 0; i < 100; i++) {
          try {
            rmdirSync(join(d, 'c1'));
            rmdirSync(d);
            break;
          } catch {
            await sleep(20);
          }
        }
      }
    }
  });

  it('makes linux.devices nodes (nested dirs, mode, owner), and a "cgroup" mount shows each hierarchy rooted at the container\'s own cgroup, read-only', async () => {
    const name = `berth-test-${Math.random().toString(36).slice(2, 10)}`;
    const dirs = ['pids', 'memory'].map((h) => join('/sys/fs/cgroup', h, name));
    for (const d of dirs) mkdirSync(join(d, 'c1'), { recursive: true });
    try {
      const script = [
        'stat -c "%n %F %t:%T %a %u:%g" /dev/kmsg /dev/net/tun',
        'echo --; ls /sys/fs/cgroup',
        'echo --; cat /sys/fs/cgroup/memory/cgroup.procs; ls /sys/fs/cgroup/pids | grep -c "^berth-test" || true',
        'echo --; mkdir /sys/fs/cgroup/memory/x 2>&1 || echo refused',
      ].join('; ');
      const r = await runContainer(
        spec({
          process: { args: ['sh', '-c', script] },
          mounts: [...defaultMountsFor(), { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] }],
          linux: {
            namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'cgroup' }],
            cgroupsPaths: dirs.map((d) => join(d, 'c1')),
            devices: [
              { path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o620, uid: 5, gid: 7 },
              { path: '/dev/net/tun', type: 'c', major: 10, minor: 200 },
            ],
          },
        }),
      );
      expect(r.status.code, r.stderr).toBe(0);
      const [nodes, hierarchies, own, write] = r.stdout.split('--\n');
      expect(nodes!.trim().split('\n')).toEqual(['/dev/kmsg character special file 1:b 620 5:7', '/dev/net/tun character special file a:c8 666 0:0']);
      // Every v1 hierarchy of the host (and the hybrid "unified"), by name.
      expect(hierarchies!.split('\n')).toEqual(expect.arrayContaining(['memory', 'pids', 'devices', 'freezer']));
      // The memory hierarchy's root is the container's cgroup: its own processes (pid 1, the shell,
      // and cat), no host cgroup dirs.
      const ownLines = own!.trim().split('\n');
      expect(ownLines[0]).toBe('1');
      expect(ownLines.slice(1, -1).every((p) => Number(p) < 10)).toBe(true);
      expect(ownLines.at(-1)).toBe('0');
      expect(write).toMatch(/Read-only file system|refused/);
    } finally {
      for (const d of dirs) {
        for (let i = 0; i < 100; i++) {
          try {
            rmdirSync(join(d, 'c1'));
            rmdirSync(d);
            break;
          } catch {
            await sleep(20);
          }
        }
      }
    }
  });

  it('exec joins a time namespace; a container can join another\'s user namespace by path', async () => {
    const userns = {
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    };
    const { container: a, run } = await Container.create(
      withDefaults({
        root: { path: userRootfs.rootfs },
        process: { args: ['sleep', '1000'] },
        linux: { namespaces: [{ type: 'user' }, { type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'time' }], ...userns },
      }),
    );
    try {
      expect(run.code, run.stderr).toBe(0);
      expect(a.start().code).toBe(0);
      const r = await a.exec({ args: ['readlink', '/proc/self/ns/time'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(readlinkSync(`/proc/${a.pid}/ns/time`));
      expect(r.stdout.trim()).not.toBe(readlinkSync('/proc/self/ns/time'));

      const b = await runContainer(
        withDefaults({
          root: { path: userRootfs.rootfs },
          process: { args: ['sh', '-c', 'readlink /proc/self/ns/user; cat /proc/self/uid_map; (echo x > /tmp/b-was-here) && echo OK'] },
          linux: { namespaces: [{ type: 'user', path: `/proc/${a.pid}/ns/user` }, { type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }] },
        }),
      );
      expect(b.status.code, b.stderr).toBe(0);
      const lines = b.stdout.trim().split('\n').map((l) => l.trim());
      expect(lines[0]).toBe(readlinkSync(`/proc/${a.pid}/ns/user`));
      expect(lines[1]!.split(/\s+/)).toEqual(['0', '100000', '65536']);
      expect(lines[2]).toBe('OK');
    } finally {
      await a.destroy();
      rmSync(join(userRootfs.rootfs, 'tmp', 'b-was-here'), { force: true });
    }
  });

  it('exec in a user-namespaced container runs as the mapped root', async () => {
    const { container, run } = await Container.create(
      withDefaults({
        root: { path: userRootfs.rootfs },
        process: { args: ['sleep', '1000'] },
        linux: {
          namespaces: [{ type: 'user' }, { type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }],
          uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
          gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        },
      }),
    );
    try {
      expect(run.code, run.stderr).toBe(0);
      expect(container.start().code).toBe(0);
      const pidFile = join(container.stateDir, 'exec.pid');
      const r = await container.exec({ args: ['sh', '-c', 'cat /proc/self/uid_map; id -u; tr "\\0" " " < /proc/1/cmdline'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }, ['--pid-file', pidFile]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => l.trim());
      expect(lines[0]!.split(/\s+/)).toEqual(['0', '100000', '65536']);
      expect(lines.slice(1)).toEqual(['0', 'sleep 1000']);
      const execPid = Number(readFileSync(pidFile, 'utf8'));
      expect((await container.reapExec(execPid)).code).toBe(0);
    } finally {
      await container.destroy();
    }
  });
});

describe('berth-shim seccomp', () => {
  const denyMkdir: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  };
  const script = 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; mkdir /tmp/made && rmdir /tmp/made && echo MADE || echo REFUSED';

  it("runs the init under Docker's default profile (filter mode 2, ordinary syscalls work) and exec under the same filter", async () => {
    const filter = resolveProfile(defaultProfile(), DEFAULT_CAPABILITIES);
    const { container, run } = await Container.create(spec({ process: { args: ['sh', '-c', `${script}; exec sleep 1000`] }, linux: { seccomp: filter } }));
    try {
      expect(run.code, run.stderr).toBe(0);
      expect(container.start().code).toBe(0);
      for (let i = 0; i < 300 && !/MADE|REFUSED/.test(container.stdout); i++) await sleep(10);
      expect(container.stdout.split('\n').map((l) => l.trim()).slice(0, 3)).toEqual(['NoNewPrivs:\t0', 'Seccomp:\t2', 'MADE']);
      const e = await container.exec({ args: ['sh', '-c', 'grep -E "^Seccomp:" /proc/self/status; unshare -U true && echo UNSHARED || echo NO-UNSHARE'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
      expect(e.code, e.stderr).toBe(0);
      expect(e.stdout).toMatch(/^Seccomp:\t2\n/);
      expect(e.stdout).toContain('NO-UNSHARE');
    } finally {
      await container.destroy();
    }
  });

  it('applies a custom filter as root without no_new_privs (loaded before the capability drop) and as a user with it (right before execve)', async () => {
    const asRoot = await runContainer(spec({ process: { args: ['sh', '-c', script] }, linux: { seccomp: denyMkdir } }));
    expect(asRoot.status.code, asRoot.stderr).toBe(0);
    expect(asRoot.stdout.split('\n').map((l) => l.trim())).toEqual(['NoNewPrivs:\t0', 'Seccomp:\t2', 'REFUSED', '']);
    const asUser = await runContainer(
      spec({ process: { args: ['sh', '-c', script], user: { uid: 1000, gid: 1000 }, noNewPrivileges: true }, linux: { seccomp: denyMkdir } }),
    );
    expect(asUser.status.code, asUser.stderr).toBe(0);
    expect(asUser.stdout.split('\n').map((l) => l.trim())).toEqual(['NoNewPrivs:\t1', 'Seccomp:\t2', 'REFUSED', '']);
    const none = await runContainer(spec({ process: { args: ['sh', '-c', script] } }));
    expect(none.stdout.split('\n').map((l) => l.trim())).toEqual(['NoNewPrivs:\t0', 'Seccomp:\t0', 'MADE', '']);
  });

  it('keeps each compiled filter in the seccomp cache (0700, one file per profile) and loads it again in the next create and in an exec', async () => {
    const base = mkdtempSync(join(tmpdir(), 'berth-seccomp-cache-'));
    const cache = join(base, 'c');
    const lines = (out: string) => out.split('\n').map((l) => l.trim());
    try {
      const first = await runContainer(spec({ process: { args: ['sh', '-c', script] }, linux: { seccomp: denyMkdir } }), { seccompCacheDir: cache });
      expect(first.status.code, first.stderr).toBe(0);
      expect(lines(first.stdout)).toEqual(['NoNewPrivs:\t0', 'Seccomp:\t2', 'REFUSED', '']);
      expect(readdirSync(cache)).toHaveLength(1);
      expect(statSync(cache).mode & 0o777).toBe(0o700);
      const { container, run } = await Container.create(
        spec({ process: { args: ['sh', '-c', `${script}; exec sleep 1000`] }, linux: { seccomp: denyMkdir } }), [], { seccompCacheDir: cache });
      try {
        expect(run.code, run.stderr).toBe(0);
        expect(container.start().code).toBe(0);
        for (let i = 0; i < 300 && !/MADE|REFUSED/.test(container.stdout); i++) await sleep(10);
        expect(lines(container.stdout).slice(0, 3)).toEqual(['NoNewPrivs:\t0', 'Seccomp:\t2', 'REFUSED']);
        const e = await container.exec({ args: ['sh', '-c', script], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
        expect(e.code, e.stderr).toBe(0);
        expect(lines(e.stdout)).toEqual(['NoNewPrivs:\t0', 'Seccomp:\t2', 'REFUSED', '']);
      } finally {
        await container.destroy();
      }
      expect(readdirSync(cache)).toHaveLength(1);
      const enosys: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }] };
      const other = await runContainer(spec({ process: { args: ['sh', '-c', 'mkdir /tmp/made 2>&1 || true'] }, linux: { seccomp: enosys } }), { seccompCacheDir: cache });
      expect(other.stdout).toMatch(/not implemented/i);
      expect(readdirSync(cache)).toHaveLength(2);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('berth-shim exec safety', () => {
  it('refuses a dead init, and a pid that now names another process', async () => {
    const p: ProcessSpec = { args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0 } };
    const { container, run } = await Container.create(spec({ process: { args: ['sleep', '1000'] } }));
    try {
      expect(run.code, run.stderr).toBe(0);
      // The pid file pointed at a recycled pid: here, this test process,
      // which shares the host's namespaces. The exec must not run on the host.
      const realPid = container.pid;
      writeFileSync(join(container.stateDir, 'pid'), `${process.pid}\n`);
      const recycled = await container.exec(p);
      expect(recycled.code).toBe(1);
      expect(recycled.stderr).toMatch(/^berth-shim: exec: container init \d+ has exited \(the pid now names another process\)/);
      writeFileSync(join(container.stateDir, 'pid'), `${realPid}\n`);
      process.kill(realPid, 'SIGKILL');
      await container.wait();
      const dead = await container.exec(p);
      expect(dead.code).toBe(1);
      expect(dead.stderr).toBe(`berth-shim: exec: container init ${realPid} is not running: No such process\n`);
    } finally {
      await container.destroy();
    }
  });
});

describe('CVE-2019-5736: /proc/<pid>/exe of the shim', () => {
  it('is a sealed memfd that a container process cannot write; the host binary is unchanged', async () => {
    const before = sha256(SHIM);
    // A: created, not started: its init runs shim code in A's pid namespace.
    const { container: a, run } = await Container.create(spec({ process: { args: ['true'] } }));
    let b: Awaited<ReturnType<typeof runContainer>> | undefined;
    try {
      expect(run.code, run.stderr).toBe(0);
      expect(readlinkSync(`/proc/${a.pid}/exe`)).toMatch(/^\/memfd:berth-shim/);
      // B joins A's pid namespace and attacks pid 1 (A's init) the way the
      // exploit does: write directly, and keep a read fd to write later.
      const attack =
        'readlink /proc/1/exe; (echo pwned >> /proc/1/exe) 2>/dev/null && echo WROTE1 || echo DENIED1; ' +
        'exec 3< /proc/1/exe; (echo pwned >> /proc/self/fd/3) 2>/dev/null && echo WROTE2 || echo DENIED2; ' +
        '(echo pwned >> /proc/self/exe) 2>/dev/null && echo WROTE3 || echo DENIED3';
      b = await runContainer(
        spec({
          process: { args: ['sh', '-c', attack] },
          linux: { namespaces: [{ type: 'pid', path: `/proc/${a.pid}/ns/pid` }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }] },
        }),
      );
      expect(b.status.code, b.stderr).toBe(0);
      expect(b.stdout.split('\n')).toEqual([expect.stringMatching(/^\/memfd:berth-shim/), 'DENIED1', 'DENIED2', 'DENIED3', '']);
    } finally {
      await a.destroy();
    }
    expect(sha256(SHIM)).toBe(before);
  });
});

describe('CVE-2019-5736 during exec', () => {
  it('an exec\'d process, caught before its execve, shows a sealed memfd that cannot be written', async () => {
    // Deterministic window: A's init sits in a v1 freezer cgroup that we
    // freeze; `berth-shim exec` moves its child into the same cgroup before
    // releasing it, so the child is frozen inside A's pid namespace, still
    // running shim code. B (in A's pid namespace, outside the freezer,
    // with CAP_SYS_PTRACE to see a fully privileged process) attacks it.
    const before = sha256(SHIM);
    const freezer = join('/sys/fs/cgroup/freezer', `berth-test-${Math.random().toString(36).slice(2, 10)}`);
    mkdirSync(freezer);
    let a: Container | undefined;
    let execRun: Promise<Run> | undefined;
    try {
      const created = await Container.create(spec({ process: { args: ['sleep', '1000'] }, linux: { cgroupsPaths: [freezer] } }));
      a = created.container;
      expect(created.run.code, created.run.stderr).toBe(0);
      expect(a.start().code).toBe(0);
      writeFileSync(join(freezer, 'freezer.state'), 'FROZEN');
      for (let i = 0; i < 500 && readFileSync(join(freezer, 'freezer.state'), 'utf8').trim() !== 'FROZEN'; i++) await sleep(10);
      execRun = a.exec({ args: ['true'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
      const procs = () => readFileSync(join(freezer, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean);
      for (let i = 0; i < 500 && procs().length < 2; i++) await sleep(10);
      expect(procs().length).toBe(2);

      const attack =
        'for p in /proc/[0-9]*; do l=$(readlink $p/exe); case "$l" in /memfd:*) ' +
        'echo "$l"; (echo pwned >> $p/exe) 2>/dev/null && echo WROTE1 || echo DENIED1; ' +
        'exec 3< $p/exe; (echo pwned >> /proc/self/fd/3) 2>/dev/null && echo WROTE2 || echo DENIED2; exit 0;; esac; done; echo NOT-FOUND';
      const caps = [...DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE'];
      const b = await runContainer(
        spec({
          process: { args: ['sh', '-c', attack], capabilities: { bounding: caps, effective: caps, permitted: caps } },
          linux: { namespaces: [{ type: 'pid', path: `/proc/${a.pid}/ns/pid` }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }] },
        }),
      );
      expect(b.status.code, b.stderr).toBe(0);
      expect(b.stdout.split('\n')).toEqual([expect.stringMatching(/^\/memfd:berth-shim/), 'DENIED1', 'DENIED2', '']);
      writeFileSync(join(freezer, 'freezer.state'), 'THAWED');
      expect((await execRun).code).toBe(0);
    } finally {
      writeFileSync(join(freezer, 'freezer.state'), 'THAWED');
      await execRun?.catch(() => undefined);
      await a?.destroy();
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(freezer);
          break;
        } catch {
          await sleep(20);
        }
      }
    }
    expect(sha256(SHIM)).toBe(before);
  });
});

describe('berth-init (spec.init)', () => {
  it('runs as pid 1 with the command as its child and passes the exit status through', async () => {
    const { status, stdout, stderr } = await runContainer(spec({ init: true, process: { args: ['sh', '-c', 'ps -o pid,args; exit 3'] } }));
    expect(status.code, stderr).toBe(3);
    expect(stdout).toMatch(/^\s*1 \/dev\/init -- sh -c ps -o pid,args; exit 3$/m);
    expect(existsSync(initBinaryPath())).toBe(true);
  });

  it('forwards SIGTERM to the command and exits with its status; 128+n when a signal kills it', async () => {
    for (const [script, want] of [
      ['trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done', 42],
      ['echo ready; exec sleep 1000', 128 + 15],
    ] as const) {
      const { container, run } = await Container.create(spec({ init: true, process: { args: ['sh', '-c', script] } }));
      try {
        expect(run.code, run.stderr).toBe(0);
        expect(container.start().code).toBe(0);
        for (let i = 0; i < 500 && !container.stdout.includes('ready'); i++) await sleep(10);
        process.kill(container.pid, 'SIGTERM');
        expect((await container.wait()).code).toBe(want);
      } finally {
        await container.destroy();
      }
    }
  });

  it('works in a user-namespaced container', async () => {
    const { status, stdout, stderr } = await runContainer(
      withDefaults({
        root: { path: userRootfs.rootfs },
        init: true,
        process: { args: ['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; exit 7'] },
        linux: {
          namespaces: [{ type: 'user' }, { type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }],
          uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
          gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        },
      }),
    );
    expect(status.code, stderr).toBe(7);
    expect(stdout.trim()).toMatch(/^\/dev\/init -- sh -c/);
  });

  it('reaps orphaned zombies', async () => {
    // The background sleeps are orphaned when their subshell exits; with
    // berth-init as pid 1 they are reaped, so no zombie is left.
    const script = '(sleep 0.1 &) ; (sleep 0.1 &); sleep 0.5; ps -o stat,args | grep -c "^ *Z" || true';
    const { status, stdout } = await runContainer(spec({ init: true, process: { args: ['sh', '-c', script] } }));
    expect(status.code).toBe(0);
    expect(stdout.trim()).toBe('0');
  });
});

describe('berth-shim leaks', () => {
  it('leaves no mounts, processes or fds behind after create/kill/delete cycles', async () => {
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const childrenBefore = childrenOfUs();
    for (let i = 0; i < 5; i++) {
      const { container, run } = await Container.create(spec({ process: { args: ['sleep', '1000'] } }));
      expect(run.code, run.stderr).toBe(0);
      if (i % 2 === 1) expect(container.start().code).toBe(0);
      expect(alive(container.pid)).toBe(true);
      await container.destroy();
      expect(alive(container.pid)).toBe(false);
      run.child.stdout!.destroy();
      run.child.stderr!.destroy();
    }
    await sleep(50);
    const mine = [...hostMountPoints()].filter((p) => p.startsWith(rootfs.dir) || p.includes('berth-state-'));
    expect(mine).toEqual([]);
    expect(childrenOfUs().filter((p) => !childrenBefore.includes(p))).toEqual([]);
    expect(readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(fdsBefore);
    // The rootfs is not busy: nothing still holds a mount on it.
    const probe = mkdtempSync(join(tmpdir(), 'berth-probe-'));
    chmodSync(probe, 0o755);
    rmSync(probe, { recursive: true });
  });
});
