// Two shapes of a seccomp policy:
//
// - SeccompProfile: Docker's profile format (moby profiles/seccomp), what
//   `--security-opt seccomp=<file>` and the built-in default are written in.
//   Rules may be conditional on the container (includes/excludes: capabilities,
//   architecture, kernel version); the architectures come from an archMap.
// - LinuxSeccomp: the OCI runtime spec's linux.seccomp (config-linux.md), a
//   concrete filter for one container: what berth.types.v1.LinuxSeccomp
//   carries and berth-shim applies. resolveProfile() turns the first into the
//   second (moby's setupSeccomp).

/** SCMP_ACT_* as in the OCI spec. SCMP_ACT_NOTIFY is not supported (no listener). */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** The architectures berth-shim knows (libseccomp's SCMP_ARCH_*). */
export const SECCOMP_ARCHITECTURES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
] as const;

/** Filter flags berth-shim accepts (TSYNC is a no-op: the shim has one thread). */
export const SECCOMP_FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] as const;

/** One argument condition. MASKED_EQ: (arg & value) == valueTwo. Values are
 * unsigned 64-bit, limited here to 2^53-1 (JS numbers; the wire's uint64). */
export interface LinuxSeccompArg {
  /** 0..5. */
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

export interface LinuxSyscall {
  names: string[];
  action: SeccompAction;
  /** For SCMP_ACT_ERRNO/SCMP_ACT_TRACE; absent = EPERM (runc). */
  errnoRet?: number;
  /** All must hold (AND); several on one index become separate rules (OR), as runc does. */
  args?: LinuxSeccompArg[];
}

/** OCI linux.seccomp: a concrete filter. */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  /** For a default SCMP_ACT_ERRNO/SCMP_ACT_TRACE; absent = EPERM. */
  defaultErrnoRet?: number;
  /** SCMP_ARCH_*; the native one is always in the filter. */
  architectures?: string[];
  flags?: string[];
  syscalls?: LinuxSyscall[];
}

/** includes/excludes of a profile rule. */
export interface SeccompFilter {
  /** Capability names (CAP_SYS_ADMIN); includes: all of them, excludes: any of them. */
  caps?: string[];
  /** moby's arch names (amd64, x86, x32, arm64, arm, s390x, ppc64le, riscv64...). */
  arches?: string[];
  /** "major.minor": the running kernel is at least this. */
  minKernel?: string;
}

export interface SeccompProfileSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
  comment?: string;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
}

export interface SeccompArchMap {
  architecture: string;
  subArchitectures: string[] | null;
}

/** Docker's seccomp profile format. */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  /** Used as is (with the archMap entries for the host added). */
  architectures?: string[];
  archMap?: SeccompArchMap[];
  flags?: string[];
  syscalls: SeccompProfileSyscall[];
}
