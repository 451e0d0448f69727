import { describe, expect, it } from 'vitest';
import { defaultProfile } from './default-profile';
import { parseProfile } from './profile';
import { kernelAtLeast, resolveProfile, type SeccompHost } from './resolve';
import type { LinuxSeccomp } from './types';

// Docker's default capability set.
const DOCKER_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
const AMD64: SeccompHost = { arch: 'amd64', kernel: '6.1.0-18-amd64' };

/** Rules naming `name`, as [action, errnoRet, args]. */
const rulesFor = (s: LinuxSeccomp, name: string) =>
  (s.syscalls ?? []).filter((r) => r.names.includes(name)).map((r) => [r.action, r.errnoRet, r.args ?? []]);
const allowedUnconditionally = (s: LinuxSeccomp, name: string) =>
  (s.syscalls ?? []).some((r) => r.names.includes(name) && r.action === 'SCMP_ACT_ALLOW' && !r.args);

describe('resolveProfile with the default profile', () => {
  it("gives Docker's default container EPERM by default, x86_64 with x86 and x32, and none of the dangerous syscalls", () => {
    const s = resolveProfile(defaultProfile(), DOCKER_CAPS, AMD64);
    expect(s.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.defaultErrnoRet).toBe(1);
    expect(s.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    for (const name of ['add_key', 'keyctl', 'request_key', 'unshare', 'mount', 'setns', 'perf_event_open', 'bpf', 'socketcall', 'reboot', 'init_module', 'kcmp']) {
      expect(rulesFor(s, name), name).toEqual([]);
    }
    for (const name of ['read', 'execve', 'mkdir', 'capset', 'setresuid', 'prctl', 'chroot', 'arch_prctl', 'modify_ldt', 'ptrace']) {
      expect(allowedUnconditionally(s, name), name).toBe(true);
    }
  });

  it('allows clone only without namespace flags, answers clone3 with ENOSYS, and filters personality and socket by argument', () => {
    const s = resolveProfile(defaultProfile(), DOCKER_CAPS, AMD64);
    // The s390 variant (flags in argument 1) is excluded on amd64.
    expect(rulesFor(s, 'clone')).toEqual([['SCMP_ACT_ALLOW', undefined, [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }]]]);
    expect(rulesFor(s, 'clone3')).toEqual([['SCMP_ACT_ERRNO', 38, []]]);
    const personality = rulesFor(s, 'personality').map(([, , args]) => (args as { value: number }[])[0]?.value);
    expect(personality).toEqual([0, 8, 0x20000, 0x20008, 0xffffffff]);
    expect(personality).not.toContain(0x0400000); // READ_IMPLIES_EXEC
    const socket = rulesFor(s, 'socket').map(([, , args]) => (args as { value: number; op: string }[])[0]);
    expect(socket).toEqual([
      { index: 0, value: 38, op: 'SCMP_CMP_LT' },
      { index: 0, value: 39, op: 'SCMP_CMP_EQ' },
      { index: 0, value: 40, op: 'SCMP_CMP_GT' },
    ]);
  });

  it('opens the CAP_SYS_ADMIN syscalls to a container that has it, and drops the clone restrictions', () => {
    const s = resolveProfile(defaultProfile(), [...DOCKER_CAPS, 'CAP_SYS_ADMIN'], AMD64);
    for (const name of ['unshare', 'mount', 'setns', 'clone', 'clone3', 'perf_event_open', 'bpf', 'umount2']) {
      expect(allowedUnconditionally(s, name), name).toBe(true);
    }
    expect(rulesFor(s, 'clone3')).toEqual([['SCMP_ACT_ALLOW', undefined, []]]);
    expect(rulesFor(s, 'clone').filter(([, , a]) => (a as unknown[]).length > 0)).toEqual([]);
  });

  it('includes a rule per capability: CAP_PERFMON gives perf_event_open only, CAP_SYS_PTRACE kcmp, CAP_SYS_TIME settimeofday', () => {
    const perf = resolveProfile(defaultProfile(), ['CAP_PERFMON'], AMD64);
    expect(allowedUnconditionally(perf, 'perf_event_open')).toBe(true);
    expect(allowedUnconditionally(perf, 'bpf')).toBe(false);
    expect(allowedUnconditionally(perf, 'unshare')).toBe(false);
    expect(allowedUnconditionally(resolveProfile(defaultProfile(), ['CAP_SYS_PTRACE'], AMD64), 'kcmp')).toBe(true);
    expect(allowedUnconditionally(resolveProfile(defaultProfile(), ['CAP_SYS_TIME'], AMD64), 'settimeofday')).toBe(true);
    // Dropping CAP_SYS_CHROOT (docker run --cap-drop sys_chroot) takes chroot away.
    expect(allowedUnconditionally(resolveProfile(defaultProfile(), DOCKER_CAPS.filter((c) => c !== 'CAP_SYS_CHROOT'), AMD64), 'chroot')).toBe(false);
  });

  it('follows the architecture: arm64 gets aarch64 + arm and the arm-only rules, not the x86 ones', () => {
    const s = resolveProfile(defaultProfile(), DOCKER_CAPS, { arch: 'arm64', kernel: '6.1.0' });
    expect(s.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(allowedUnconditionally(s, 'cacheflush')).toBe(true);
    expect(allowedUnconditionally(s, 'arch_prctl')).toBe(false);
    expect(allowedUnconditionally(s, 'modify_ldt')).toBe(false);
  });

  it('follows the kernel: ptrace needs 4.8 without CAP_SYS_PTRACE', () => {
    expect(allowedUnconditionally(resolveProfile(defaultProfile(), DOCKER_CAPS, { arch: 'amd64', kernel: '4.4.0-210-generic' }), 'ptrace')).toBe(false);
    expect(allowedUnconditionally(resolveProfile(defaultProfile(), DOCKER_CAPS, { arch: 'amd64', kernel: '4.8.0' }), 'ptrace')).toBe(true);
  });
});

describe('resolveProfile with custom profiles', () => {
  const custom = (syscalls: unknown[], extra: object = {}) => parseProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls, ...extra }));

  it('needs every included capability and drops a rule for any excluded one', () => {
    const p = custom([
      { names: ['a'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_X', 'CAP_Y'] } },
      { names: ['b'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_X', 'CAP_Z'] } },
      { names: ['c'], action: 'SCMP_ACT_ERRNO', excludes: { minKernel: '5.0' } },
    ]);
    const names = (caps: string[], kernel = '6.1') => (resolveProfile(p, caps, { arch: 'amd64', kernel }).syscalls ?? []).map((r) => r.names[0]);
    expect(names([])).toEqual(['b']);
    expect(names(['CAP_X'])).toEqual([]);
    expect(names(['CAP_X', 'CAP_Y'])).toEqual(['a']);
    expect(names(['CAP_Y'])).toEqual(['b']);
    expect(names(['cap_z'])).toEqual([]);
    expect(names([], '4.19.0')).toEqual(['b', 'c']);
  });

  it("keeps a profile's own architectures and adds the archMap entry of the host", () => {
    const p = custom([], { architectures: ['SCMP_ARCH_X86_64'] });
    expect(resolveProfile(p, [], AMD64).architectures).toEqual(['SCMP_ARCH_X86_64']);
    const m = custom([], { archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: null }] });
    expect(resolveProfile(m, [], AMD64).architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  });

  it('refuses a profile under which nothing could run', () => {
    const p = parseProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } }] }));
    expect(() => resolveProfile(p, [], AMD64)).toThrow(/no syscall is allowed for this container/);
  });
});

describe('kernelAtLeast', () => {
  it('compares major.minor numerically', () => {
    expect(kernelAtLeast('6.18.44-fc-v1272', '4.8')).toBe(true);
    expect(kernelAtLeast('4.10.0', '4.8')).toBe(true);
    expect(kernelAtLeast('4.7.9', '4.8')).toBe(false);
    expect(kernelAtLeast('3.19', '4.8')).toBe(false);
  });
});
