import { describe, expect, it } from 'vitest';
import { parseSecurityOpts, seccompFor, seccompProfileFor } from './security-opt';

const AMD64 = { arch: 'amd64', kernel: '6.1.0' };

describe('parseSecurityOpts', () => {
  it("takes Docker's forms of no-new-privileges", () => {
    expect(parseSecurityOpts([]).noNewPrivileges).toBe(false);
    expect(parseSecurityOpts(['no-new-privileges']).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(['no-new-privileges=true']).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(['no-new-privileges:true']).noNewPrivileges).toBe(true);
    expect(parseSecurityOpts(['no-new-privileges', 'no-new-privileges=false']).noNewPrivileges).toBe(false);
    expect(parseSecurityOpts(['no-new-privileges=1']).noNewPrivileges).toBe(true);
  });

  it('takes seccomp=unconfined, builtin and a profile JSON (with colons inside)', () => {
    expect(parseSecurityOpts(['seccomp=unconfined']).seccomp).toEqual({ name: 'unconfined' });
    expect(parseSecurityOpts(['seccomp:unconfined']).seccomp).toEqual({ name: 'unconfined' });
    expect(parseSecurityOpts(['seccomp=builtin']).seccomp).toEqual({ name: 'default' });
    const s = parseSecurityOpts(['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}']).seccomp;
    expect(s.name).toBe('custom');
  });

  it('names the bad option', () => {
    expect(() => parseSecurityOpts(['no-new-privileges=maybe'])).toThrow(/invalid --security-opt "no-new-privileges=maybe": "maybe" is not a boolean/);
    expect(() => parseSecurityOpts(['seccomp=/tmp/profile.json'])).toThrow(/invalid --security-opt "seccomp=\/tmp\/profile.json": expected seccomp=unconfined/);
    expect(() => parseSecurityOpts(['bogus'])).toThrow(/invalid --security-opt "bogus"/);
    expect(() => parseSecurityOpts(['colour=blue'])).toThrow(/unknown option "colour"/);
    expect(() => parseSecurityOpts(['apparmor=docker-default'])).toThrow(/no AppArmor profiles/);
    expect(() => parseSecurityOpts(['seccomp={"defaultAction":1}'])).toThrow(/seccomp profile: defaultAction/);
    expect(parseSecurityOpts(['label=disable', 'apparmor=unconfined'])).toEqual({ seccomp: { name: 'default' }, noNewPrivileges: false });
    // Every SELinux label option is a no-op, as Docker's without SELinux.
    expect(parseSecurityOpts(['label=type:container_t', 'label=level:s0:c100,c200', 'label=nested', 'label:user:u'])).toEqual({ seccomp: { name: 'default' }, noNewPrivileges: false });
    expect(() => parseSecurityOpts(['label='])).toThrow(/label=disable or label=<key>:<value>/);
  });
});

describe('the engine choice', () => {
  it('is the default profile unless told otherwise, and nothing for a privileged container', () => {
    expect(seccompProfileFor({ securityOpt: [], privileged: false }).name).toBe('default');
    expect(seccompProfileFor({ securityOpt: ['seccomp=unconfined'], privileged: false })).toEqual({ name: 'unconfined', profile: null });
    expect(seccompProfileFor({ securityOpt: [], privileged: true })).toEqual({ name: 'unconfined', profile: null });
    expect(seccompProfileFor({ securityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'], privileged: true }).name).toBe('unconfined');
    expect(seccompFor({ securityOpt: [], privileged: true, capabilities: [] })).toBeUndefined();
    const s = seccompFor({ securityOpt: [], privileged: false, capabilities: ['CAP_CHOWN'], host: AMD64 });
    expect(s?.defaultAction).toBe('SCMP_ACT_ERRNO');
    const c = seccompFor({ securityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}'], privileged: false, capabilities: [], host: AMD64 });
    expect(c).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  });
});
