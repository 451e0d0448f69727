import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseProfile, validateLinuxSeccomp } from './profile';

const fails = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    return e as Error;
  }
  throw new Error('expected an InvalidArgumentError');
};

describe('parseProfile', () => {
  it("reads Docker's format, the old single name included", () => {
    const p = parseProfile(JSON.stringify({
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: null, comment: '', includes: {}, excludes: {} },
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
      ],
    }));
    expect(p.syscalls[0]).toEqual({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, comment: '', includes: {}, excludes: {} });
    expect(p.syscalls[1]?.args).toEqual([{ index: 0, value: 1, valueTwo: 0, op: 'SCMP_CMP_EQ' }]);
  });

  it('names the part that is wrong, with the field host_config.security_opt', () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /seccomp profile: not valid JSON/],
      [[], /seccomp profile: expected an object/],
      [{ defaultAction: 'SCMP_ACT_NOPE' }, /defaultAction: unknown value "SCMP_ACT_NOPE"/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW' }, { names: ['b'], action: 'SCMP_ACT_ALLOW', args: [{ index: 7, value: 0, op: 'SCMP_CMP_EQ' }] }] }, /syscalls\[1\]\.args\[0\]\.index: expected an integer 0\.\.5/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'EQ' }] }] }, /syscalls\[0\]\.args\[0\]\.op: unknown value "EQ"/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: [], action: 'SCMP_ACT_ALLOW' }] }, /syscalls\[0\]\.names: is empty/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] }, /both "name" and "names"/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', errnoRet: 1 }, /errnoRet: unknown field/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 }, /defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, /architectures\[0\]: unknown value "SCMP_ARCH_VAX"/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }] }, /both "architectures" and "archMap"/],
      [{ defaultAction: 'SCMP_ACT_NOTIFY' }, /SCMP_ACT_NOTIFY is not supported/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', includes: { minKernel: 'four' } }] }, /syscalls\[0\]\.includes\.minKernel/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] }, /args\[0\]\.value: expected an integer/],
    ];
    for (const [input, re] of cases) {
      const e = fails(() => parseProfile(typeof input === 'string' ? input : JSON.stringify(input)));
      expect(e.message).toMatch(re);
      expect((e as { field?: string }).field).toBe('host_config.security_opt');
    }
  });
});

describe('validateLinuxSeccomp', () => {
  it('accepts the OCI shape and names bad parts under the given field', () => {
    expect(validateLinuxSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] })).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    });
    const e = fails(() => validateLinuxSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: {} }] }, 'spec.linux.seccomp'));
    expect(e.message).toMatch(/^spec\.linux\.seccomp: syscalls\[0\]\.includes: unknown field/);
  });
});
