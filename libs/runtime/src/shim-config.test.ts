import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { defaultSpec, withDefaults } from './spec';
import { berthShim, escapeField, formatLine, initBinaryPath, serializeExecConfig, serializeShimConfig, shimBinaryPath, writeExecConfig, writeShimConfig } from './shim-config';

/** The C side's unescape, mirrored to check round trips. */
function unescape(s: string): string {
  return s.replace(/\\(\\|t|n|r|x([0-9a-fA-F]{2}))/g, (_m, c: string, hex?: string) =>
    hex ? String.fromCharCode(parseInt(hex, 16)) : ({ '\\': '\\', t: '\t', n: '\n', r: '\r' } as Record<string, string>)[c]!,
  );
}

describe('escapeField', () => {
  it('escapes separators and control bytes so every line is one directive', () => {
    expect(escapeField('a\\b\tc\nd\re\x01\x7f')).toBe('a\\\\b\\tc\\nd\\re\\x01\\x7f');
    const all = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join('') + 'ü€😀';
    const esc = escapeField(all);
    expect(esc).not.toMatch(/[\t\n\r\x00-\x1f\x7f]/);
    expect(unescape(esc)).toBe(all);
  });

  it('formats a line of fields', () => {
    expect(formatLine(['mount', '/a\tb', ''])).toBe('mount\t/a\\tb\t\n');
  });
});

describe('serializeShimConfig', () => {
  it('writes linux.devices as device lines: octal mode (0666 default), owner (0 default), the host node (the path by default)', () => {
    const text = serializeShimConfig(
      withDefaults({
        process: { args: ['true'] },
        root: { path: '/r' },
        linux: { devices: [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o620, uid: 5, gid: 7, hostPath: '/dev/klog' }, { path: '/dev/net/tun', type: 'c', major: 10, minor: 200 }] },
      }),
    );
    expect(text.split('\n').filter((l) => l.startsWith('device\t'))).toEqual([
      'device\t/dev/kmsg\tc\t1\t11\t0620\t5\t7\t/dev/klog',
      'device\t/dev/net/tun\tc\t10\t200\t0666\t0\t0\t/dev/net/tun',
    ]);
  });

  it('writes every directive the shim reads', () => {
    const spec = withDefaults({
      process: { args: ['sh', '-c', 'echo "a\tb"'], env: ['PATH=/bin', 'X=line1\nline2'], cwd: '/w', user: { uid: 1, gid: 2, additionalGids: [3] }, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 'unlimited' }], noNewPrivileges: true, terminal: true, oomScoreAdj: 5 },
      root: { path: '/r', readonly: true },
      hostname: 'h',
      linux: {
        namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'uts' }, { type: 'network', path: '/run/netns/x' }],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        sysctl: { 'net.ipv4.ip_forward': '1' },
        cgroupsPaths: ['/sys/fs/cgroup/pids/x'],
        maskedPaths: ['/proc/kcore'],
        readonlyPaths: ['/proc/sys'],
        rootfsPropagation: 'rslave',
      },
      mounts: [{ destination: '/data', type: 'bind', source: '/host data', options: ['rbind', 'ro'] }],
      init: true,
    });
    const text = serializeShimConfig(spec);
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').slice(0, -1);
    expect(lines[0]).toBe('berth-shim-config\t1');
    expect(lines).toContain('arg\techo "a\\tb"');
    expect(lines).toContain('env\tX=line1\\nline2');
    expect(lines).toContain('user\t1\t2');
    expect(lines).toContain('group\t3');
    expect(lines).toContain('cap\tbounding\tCAP_CHOWN\tCAP_DAC_OVERRIDE\tCAP_FSETID\tCAP_FOWNER\tCAP_MKNOD\tCAP_NET_RAW\tCAP_SETGID\tCAP_SETUID\tCAP_SETFCAP\tCAP_SETPCAP\tCAP_NET_BIND_SERVICE\tCAP_SYS_CHROOT\tCAP_KILL\tCAP_AUDIT_WRITE');
    expect(lines).toContain('cap\tambient');
    expect(lines).toContain('rlimit\tRLIMIT_NOFILE\t10\tunlimited');
    expect(lines).toContain('no-new-privileges');
    expect(lines).toContain('terminal');
    expect(lines).toContain('oom-score-adj\t5');
    expect(lines).toContain('namespace\tuser');
    expect(lines).toContain('namespace\tnetwork\t/run/netns/x');
    expect(lines).toContain('uid-map\t0\t100000\t65536');
    expect(lines).toContain('root\t/r');
    expect(lines).toContain('root-readonly');
    expect(lines).toContain('rootfs-propagation\trslave');
    expect(lines).toContain('hostname\th');
    expect(lines).toContain('mount\t/data\tbind\t/host data\trbind\tro');
    expect(lines).toContain('masked-path\t/proc/kcore');
    expect(lines).toContain('readonly-path\t/proc/sys');
    expect(lines).toContain('sysctl\tnet.ipv4.ip_forward\t1');
    expect(lines).toContain('cgroup\t/sys/fs/cgroup/pids/x');
    expect(lines).toContain(`init\t${initBinaryPath()}`);
    // Args stay in order.
    expect(lines.filter((l) => l.startsWith('arg\t'))).toEqual(['arg\tsh', 'arg\t-c', 'arg\techo "a\\tb"']);
  });

  it('validates first', () => {
    const s = defaultSpec('/r', ['sh']);
    s.linux.namespaces.push({ type: 'bogus' as never });
    expect(() => serializeShimConfig(s)).toThrow(/linux\.namespaces\[5\]\.type: unknown namespace "bogus"/);
    try {
      serializeShimConfig(s);
    } catch (e) {
      expect(isInvalidArgument(e)).toBe(true);
    }
  });
});

describe('serializeShimConfig: seccomp', () => {
  it('writes linux.seccomp as seccomp directives, one line per syscall name, EPERM where errnoRet is absent', () => {
    const spec = withDefaults({
      process: { args: ['true'] },
      root: { path: '/r' },
      linux: {
        seccomp: {
          defaultAction: 'SCMP_ACT_ERRNO',
          architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
          flags: ['SECCOMP_FILTER_FLAG_LOG'],
          syscalls: [
            { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
            { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
            { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] },
          ],
        },
      },
    });
    const lines = serializeShimConfig(spec).split('\n').filter((l) => l.startsWith('seccomp'));
    expect(lines).toEqual([
      'seccomp\tSCMP_ACT_ERRNO\t1',
      'seccomp-arch\tSCMP_ARCH_X86_64',
      'seccomp-arch\tSCMP_ARCH_X86',
      'seccomp-flag\tSECCOMP_FILTER_FLAG_LOG',
      'seccomp-syscall\tread\tSCMP_ACT_ALLOW\t-',
      'seccomp-syscall\twrite\tSCMP_ACT_ALLOW\t-',
      'seccomp-syscall\tclone3\tSCMP_ACT_ERRNO\t38',
      'seccomp-syscall\tclone\tSCMP_ACT_ALLOW\t-\t0\tSCMP_CMP_MASKED_EQ\t2114060288\t0',
    ]);
    expect(serializeShimConfig(defaultSpec('/r', ['true']))).not.toMatch(/^seccomp/m);
  });

  it('names the seccomp cache directory only when there is a filter to cache', () => {
    const spec = withDefaults({ process: { args: ['true'] }, root: { path: '/r' }, linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW' } } });
    expect(serializeShimConfig(spec, { seccompCacheDir: '/run/berth/namespaces-seccomp' })).toMatch(/^seccomp-cache\t\/run\/berth\/namespaces-seccomp$/m);
    expect(serializeShimConfig(spec)).not.toMatch(/^seccomp-cache/m);
    expect(serializeShimConfig(defaultSpec('/r', ['true']), { seccompCacheDir: '/c' })).not.toMatch(/^seccomp/m);
  });

  it('refuses a malformed filter, naming the part', () => {
    const spec = withDefaults({ process: { args: ['true'] }, root: { path: '/r' } });
    spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 9, value: 0, op: 'SCMP_CMP_EQ' }] }] };
    expect(() => serializeShimConfig(spec)).toThrow(/linux\.seccomp: syscalls\[0\]\.args\[0\]\.index/);
  });
});

describe('writing configs', () => {
  it('writes <stateDir>/config and exec configs atomically, mode 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
    try {
      const spec = defaultSpec('/r', ['sh']);
      await writeShimConfig(dir, spec);
      expect(readFileSync(join(dir, 'config'), 'utf8')).toBe(serializeShimConfig(spec));
      expect(statSync(join(dir, 'config')).mode & 0o777).toBe(0o600);
      await writeExecConfig(join(dir, 'exec'), spec.process);
      const exec = readFileSync(join(dir, 'exec'), 'utf8');
      expect(exec).toBe(serializeExecConfig(spec.process));
      expect(exec.startsWith('berth-exec-config\t1\n')).toBe(true);
      expect(exec).not.toMatch(/^(namespace|root|mount)\t/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the binaries in native/build, or where BERTH_SHIM / BERTH_INIT say', () => {
    const repo = resolve(__dirname, '..', '..', '..');
    const saved = { shim: process.env['BERTH_SHIM'], init: process.env['BERTH_INIT'] };
    try {
      delete process.env['BERTH_SHIM'];
      delete process.env['BERTH_INIT'];
      expect(shimBinaryPath()).toBe(join(repo, 'native', 'build', 'berth-shim'));
      expect(initBinaryPath()).toBe(join(repo, 'native', 'build', 'berth-init'));
      process.env['BERTH_SHIM'] = '/opt/berth-shim';
      process.env['BERTH_INIT'] = '/opt/berth-init';
      expect(shimBinaryPath()).toBe('/opt/berth-shim');
      expect(initBinaryPath()).toBe('/opt/berth-init');
      expect(berthShim().path).toBe('/opt/berth-shim');
    } finally {
      for (const [k, v] of [['BERTH_SHIM', saved.shim], ['BERTH_INIT', saved.init]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
