// A profile in Docker's format -> the OCI linux.seccomp for one container,
// as moby's setupSeccomp (profiles/seccomp/seccomp_linux.go) does it:
//
// - architectures: the profile's `architectures` as given, plus, from
//   `archMap`, the entry for the host's native architecture and its
//   sub-architectures (x86_64 -> x86_64, x86, x32);
// - a rule is dropped when its `excludes` match (any excluded capability is
//   in the container's set, the host's arch is excluded, the kernel is at
//   least excludes.minKernel) or its `includes` do not (every included
//   capability must be in the set, the arch must be listed, the kernel at
//   least includes.minKernel);
// - the rest is copied as is.
//
// moby checks capabilities against the bounding set; berth gives its
// containers equal bounding, effective and permitted sets, and passes the
// effective one here (what the process can actually use).
import { release } from 'node:os';
import { InvalidArgumentError } from '@berth/errors';
import type { LinuxSeccomp, LinuxSyscall, SeccompFilter, SeccompProfile } from './types';

/** The host the filter is for; tests pass their own. */
export interface SeccompHost {
  /** moby's arch name: amd64, x86, arm64, arm, s390x, ppc64le, riscv64... */
  arch: string;
  /** The kernel release, "6.1.0-18-amd64" (only major.minor matter). */
  kernel: string;
}

// Node's process.arch -> moby's arch names (Go's GOARCH via goToNative) and
// the libseccomp native architecture.
const NODE_ARCHES: Record<string, { moby: string; seccomp: string }> = {
  x64: { moby: 'amd64', seccomp: 'SCMP_ARCH_X86_64' },
  ia32: { moby: 'x86', seccomp: 'SCMP_ARCH_X86' },
  arm64: { moby: 'arm64', seccomp: 'SCMP_ARCH_AARCH64' },
  arm: { moby: 'arm', seccomp: 'SCMP_ARCH_ARM' },
  ppc64: { moby: 'ppc64le', seccomp: 'SCMP_ARCH_PPC64LE' },
  s390x: { moby: 's390x', seccomp: 'SCMP_ARCH_S390X' },
  riscv64: { moby: 'riscv64', seccomp: 'SCMP_ARCH_RISCV64' },
  mips64el: { moby: 'mips64le', seccomp: 'SCMP_ARCH_MIPSEL64' },
};

const MOBY_TO_SECCOMP: Record<string, string> = Object.fromEntries(Object.values(NODE_ARCHES).map((a) => [a.moby, a.seccomp]));

/** This machine. */
export function currentHost(): SeccompHost {
  return { arch: NODE_ARCHES[process.arch]?.moby ?? process.arch, kernel: release() };
}

/** "6.18.44-fc" >= "4.8"? */
export function kernelAtLeast(kernel: string, min: string): boolean {
  const [kMaj = 0, kMin = 0] = (/^(\d+)\.(\d+)/.exec(kernel) ?? []).slice(1).map(Number);
  const [mMaj = 0, mMin = 0] = min.split('.').map(Number);
  return kMaj > mMaj || (kMaj === mMaj && kMin >= mMin);
}

function excluded(f: SeccompFilter | undefined, caps: ReadonlySet<string>, host: SeccompHost): boolean {
  if (!f) return false;
  if (f.arches?.includes(host.arch)) return true;
  if (f.caps?.some((c) => caps.has(c))) return true;
  if (f.minKernel !== undefined && kernelAtLeast(host.kernel, f.minKernel)) return true;
  return false;
}

function included(f: SeccompFilter | undefined, caps: ReadonlySet<string>, host: SeccompHost): boolean {
  if (!f) return true;
  if (f.arches && f.arches.length > 0 && !f.arches.includes(host.arch)) return false;
  if (f.caps && !f.caps.every((c) => caps.has(c))) return false;
  if (f.minKernel !== undefined && !kernelAtLeast(host.kernel, f.minKernel)) return false;
  return true;
}

/**
 * The concrete filter `profile` gives a container with these capabilities
 * (names, CAP_SYS_ADMIN...) on `host` (default: this machine).
 */
export function resolveProfile(profile: SeccompProfile, capabilities: readonly string[], host: SeccompHost = currentHost()): LinuxSeccomp {
  const caps = new Set(capabilities.map((c) => c.toUpperCase()));
  const architectures = [...(profile.architectures ?? [])];
  const native = MOBY_TO_SECCOMP[host.arch];
  for (const m of profile.archMap ?? []) {
    if (m.architecture === native) architectures.push(m.architecture, ...(m.subArchitectures ?? []));
  }
  const syscalls: LinuxSyscall[] = [];
  for (const s of profile.syscalls) {
    if (excluded(s.excludes, caps, host) || !included(s.includes, caps, host)) continue;
    const rule: LinuxSyscall = { names: [...s.names], action: s.action };
    if (s.errnoRet !== undefined) rule.errnoRet = s.errnoRet;
    if (s.args && s.args.length > 0) rule.args = s.args.map((a) => ({ ...a }));
    syscalls.push(rule);
  }
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction, architectures: [...new Set(architectures)], syscalls };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags && profile.flags.length > 0) out.flags = [...profile.flags];
  if (syscalls.length === 0 && out.defaultAction !== 'SCMP_ACT_ALLOW') {
    // moby accepts it too, but nothing could run (not even execve): say so.
    throw new InvalidArgumentError(
      `seccomp profile: no syscall is allowed for this container (default action ${out.defaultAction} and no rule applies); the container could not even exec its command`,
      { field: 'host_config.security_opt' },
    );
  }
  return out;
}
