// Wire -> runtime spec: defaults for unset parts, given parts kept, errors
// naming the proto field path.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument, type BerthError } from '@berth/errors';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULT_PATH, defaultMounts } from '@berth/runtime';
import type { typesV1 } from '@berth/proto';
import { processFromWire, specFromWire } from './spec-wire';

// What a grpc-js server hands a handler for an all-unset Process (defaults: true).
function wireProcess(p: Partial<typesV1.Process__Output> = {}): typesV1.Process__Output {
  return { terminal: false, consoleSize: null, user: null, args: [], env: [], cwd: '', capabilities: null, rlimits: [], noNewPrivileges: false, ...p };
}

function wireSpec(s: Partial<typesV1.ContainerSpec__Output> = {}): typesV1.ContainerSpec__Output {
  return { process: wireProcess({ args: ['true'] }), root: { path: '/tmp', readonly: false }, hostname: '', domainname: '', mounts: [], linux: null, init: false, annotations: {}, ...s };
}

function wireLinux(l: Partial<typesV1.Linux__Output> = {}): typesV1.Linux__Output {
  return { namespaces: [], uidMappings: [], gidMappings: [], maskedPaths: [], readonlyPaths: [], sysctl: {}, cgroupsPaths: [], rootfsPropagation: '', resources: null, seccomp: null, devices: [], unmaskedPaths: false, ...l };
}

function thrown(f: () => unknown): BerthError {
  try {
    f();
  } catch (e) {
    return e as BerthError;
  }
  throw new Error('expected a throw');
}

describe('specFromWire', () => {
  it('carries linux.seccomp through, and leaves it out when unset (no filter)', () => {
    const seccomp: typesV1.LinuxSeccomp__Output = {
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64'], flags: [],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW', args: [] },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [] },
      ],
    };
    expect(specFromWire(wireSpec({ linux: wireLinux({ seccomp }) })).linux.seccomp).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64'], flags: [],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      ],
    });
    expect(specFromWire(wireSpec()).linux.seccomp).toBeUndefined();
  });

  it("fills Docker's defaults for everything unset", () => {
    const spec = specFromWire(wireSpec());
    expect(spec.process).toMatchObject({ args: ['true'], env: [`PATH=${DEFAULT_PATH}`], cwd: '/', user: { uid: 0, gid: 0 }, terminal: false });
    expect(spec.process.capabilities?.bounding).toEqual([...DEFAULT_CAPABILITIES]);
    expect(spec.process.capabilities?.effective).toEqual([...DEFAULT_CAPABILITIES]);
    expect(spec.linux.maskedPaths).toEqual([...DEFAULT_MASKED_PATHS]);
    expect(spec.linux.readonlyPaths).toEqual([...DEFAULT_READONLY_PATHS]);
    expect(spec.linux.namespaces.map((n) => n.type).sort()).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(spec.mounts).toEqual(defaultMounts());
    expect(spec.hostname).toBeUndefined();
    expect(spec.process.oomScoreAdj).toBeUndefined();
  });

  it('keeps what was set; mounts follow the defaults and replace one with the same destination', () => {
    const spec = specFromWire(
      wireSpec({
        process: wireProcess({
          args: ['sh'],
          env: ['A=1'],
          cwd: '/work',
          user: { uid: 1000, gid: 1000, additionalGids: [10], umask: 0o022, _umask: 'umask' },
          capabilities: { bounding: ['CAP_KILL'], effective: [], permitted: ['CAP_KILL'], inheritable: [], ambient: [] },
          rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 18446744073709552000 }],
          oomScoreAdj: 0,
          _oomScoreAdj: 'oomScoreAdj',
        }),
        hostname: 'h',
        mounts: [
          { destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'ro'] },
          { destination: '/dev/shm/', type: 'tmpfs', source: 'shm', options: ['size=1m'] },
        ],
        linux: {
          namespaces: [{ type: 'mount', path: '' }, { type: 'uts', path: '' }, { type: 'network', path: '/run/netns/x' }],
          uidMappings: [], gidMappings: [], maskedPaths: ['/proc/kcore'], readonlyPaths: [], sysctl: {}, cgroupsPaths: [], rootfsPropagation: 'rslave', resources: null, seccomp: null, devices: [], unmaskedPaths: false,
        },
      }),
    );
    expect(spec.process).toMatchObject({ args: ['sh'], env: ['A=1'], cwd: '/work', user: { uid: 1000, gid: 1000, additionalGids: [10] }, oomScoreAdj: 0 });
    expect(spec.process.capabilities).toMatchObject({ bounding: ['CAP_KILL'], permitted: ['CAP_KILL'], effective: [] });
    expect(spec.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 'unlimited' }]);
    expect(spec.hostname).toBe('h');
    expect(spec.linux.namespaces).toEqual([{ type: 'mount' }, { type: 'uts' }, { type: 'network', path: '/run/netns/x' }]);
    expect(spec.linux.maskedPaths).toEqual(['/proc/kcore']);
    expect(spec.linux.readonlyPaths).toEqual([...DEFAULT_READONLY_PATHS]);
    expect(spec.linux.rootfsPropagation).toBe('rslave');
    const dests = spec.mounts.map((m) => m.destination);
    expect(dests.slice(-2)).toEqual(['/data', '/dev/shm/']);
    expect(dests.filter((d) => d.startsWith('/dev/shm'))).toHaveLength(1);
    expect(dests.slice(0, 5)).toEqual(defaultMounts().filter((m) => m.destination !== '/dev/shm').map((m) => m.destination));
  });

  it('names the proto field of bad input', () => {
    const cases: [typesV1.ContainerSpec__Output | null, string][] = [
      [null, 'spec'],
      [wireSpec({ process: null }), 'spec.process'],
      [wireSpec({ process: wireProcess() }), 'spec.process.args'],
      [wireSpec({ root: null }), 'spec.root.path'],
      [wireSpec({ process: wireProcess({ args: ['x'], env: ['NOEQUALS'] }) }), 'spec.process.env[0]'],
      [wireSpec({ process: wireProcess({ args: ['x'], cwd: 'rel' }) }), 'spec.process.cwd'],
      [wireSpec({ process: wireProcess({ args: ['x'], user: { uid: 0, gid: 0, additionalGids: [], umask: 0o077, _umask: 'umask' } }) }), 'spec.process.user.umask'],
      [wireSpec({ process: wireProcess({ args: ['x'], rlimits: [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }] }) }), 'spec.process.rlimits[0].type'],
      [wireSpec({ mounts: [{ destination: '', type: 'bind', source: '/', options: [] }] }), 'spec.mounts[0].destination'],
      [wireSpec({ hostname: 'h', linux: { namespaces: [{ type: 'mount', path: '' }], uidMappings: [], gidMappings: [], maskedPaths: [], readonlyPaths: [], sysctl: {}, cgroupsPaths: [], rootfsPropagation: '', resources: null, seccomp: null, devices: [], unmaskedPaths: false } }), 'spec.hostname'],
      [wireSpec({ linux: { namespaces: [{ type: 'mount', path: '' }, { type: 'bogus', path: '' }], uidMappings: [], gidMappings: [], maskedPaths: [], readonlyPaths: [], sysctl: {}, cgroupsPaths: [], rootfsPropagation: '', resources: null, seccomp: null, devices: [], unmaskedPaths: false } }), 'spec.linux.namespaces[1].type'],
      [wireSpec({ linux: wireLinux({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], flags: [], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0, valueTwo: 0, op: 'SCMP_CMP_ALMOST' }] }] } }) }), 'spec.linux.seccomp'],
      [wireSpec({ linux: wireLinux({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], flags: [], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2 ** 60, valueTwo: 0, op: 'SCMP_CMP_EQ' }] }] } }) }), 'spec.linux.seccomp.syscalls[0].args[0].value'],
    ];
    for (const [input, field] of cases) {
      const e = thrown(() => specFromWire(input));
      expect(isInvalidArgument(e), `${field}: ${e.message}`).toBe(true);
      expect(e.field).toBe(field);
      expect(e.message).toContain(field);
    }
  });
});

describe('processFromWire', () => {
  it('defaults an exec process like an init and names bad fields under process', () => {
    const p = processFromWire(wireProcess({ args: ['ls'] }));
    expect(p).toMatchObject({ args: ['ls'], cwd: '/', env: [`PATH=${DEFAULT_PATH}`], user: { uid: 0, gid: 0 } });
    expect(p.capabilities?.bounding).toEqual([...DEFAULT_CAPABILITIES]);
    expect(thrown(() => processFromWire(null)).field).toBe('process');
    expect(thrown(() => processFromWire(wireProcess())).field).toBe('process.args');
    const bad = thrown(() => processFromWire(wireProcess({ args: ['ls'], capabilities: { bounding: [], effective: ['CAP_KILL'], permitted: [], inheritable: [], ambient: [] } })));
    expect(isInvalidArgument(bad)).toBe(true);
    expect(bad.field).toBe('process.capabilities.effective');
  });

  it('a capabilities message with every set empty is no capability at all, for an exec and an init (--cap-drop ALL), never the defaults', () => {
    const none = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
    const empty = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
    expect(processFromWire(wireProcess({ args: ['ls'], capabilities: none })).capabilities).toEqual(empty);
    expect(specFromWire(wireSpec({ process: wireProcess({ args: ['sh'], capabilities: none }) })).process.capabilities).toEqual(empty);
    // Unset stays Docker's default set.
    expect(processFromWire(wireProcess({ args: ['ls'], capabilities: null })).capabilities?.effective).toEqual([...DEFAULT_CAPABILITIES]);
  });
});
