// The shape rules of a container's configuration, shared by the CLI (which
// checks flags before it calls) and the engine (which checks every request,
// whoever built it: the CLI, the Docker API gateway, any gRPC client).
//
// Each check returns undefined when the value is acceptable, or the reason it
// is not, phrased to follow "invalid <what> "<value>": ". The caller wraps it
// in its own error: the CLI names the flag, the engine the request field.
// node:net is loaded when an address is checked, not with this module: the
// CLI loads this module at every start, and node:net costs it several ms.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const isIP = (v: string): number => (require('node:net') as typeof import('node:net')).isIP(v);

/** A value quoted in an error message: control characters escaped, a long value cut (a 10,000-character name is not echoed whole). */
export function quoteValue(v: string, max = 80): string {
  const esc = JSON.stringify(v).slice(1, -1);
  return esc.length > max ? `${esc.slice(0, max)}...(${v.length} characters)` : esc;
}

/** Docker's rule for container and volume names (daemon/names/names.go). */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/**
 * A container name is also its DNS name on its networks and a line of
 * /etc/hosts: bounded by a DNS name's length. Docker sets no bound; a
 * 10,000-character name only ever breaks something later.
 */
export const MAX_NAME_LENGTH = 253;

/** Linux's HOST_NAME_MAX (sethostname(2) refuses longer, and so does setdomainname(2)). */
export const MAX_HOSTNAME_LENGTH = 64;

export function checkContainerName(name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH) return `a name is at most ${MAX_NAME_LENGTH} characters (this one has ${name.length})`;
  if (!NAME_PATTERN.test(name)) return 'expected [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters)';
  return undefined;
}

const LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/** RFC 1123 host names: dot-separated labels of letters, digits and inner "-", at most 63 each; at most 64 in all (the kernel's bound). */
export function checkHostname(v: string): string | undefined {
  if (v.length > MAX_HOSTNAME_LENGTH) return `a hostname is at most ${MAX_HOSTNAME_LENGTH} characters (Linux's HOST_NAME_MAX)`;
  if (!v.split('.').every((l) => LABEL.test(l))) return 'expected a hostname: letters, digits and "-", dot-separated labels of at most 63 characters';
  return undefined;
}

/** The NIS domain name (setdomainname(2)): the same rule as a host name. */
export const checkDomainname = (v: string): string | undefined => checkHostname(v)?.replace(/hostname/g, 'domain name');

const hasNul = (s: string) => s.includes('\0');

/** An environment entry "KEY=value" or "KEY" (the engine then unsets KEY). execve(2) cannot carry a NUL. */
export function checkEnvEntry(e: string): string | undefined {
  const eq = e.indexOf('=');
  const key = eq < 0 ? e : e.slice(0, eq);
  if (key === '') return 'expected KEY=VALUE or KEY (the variable name is empty)';
  if (hasNul(e)) return 'an environment entry cannot contain a NUL byte';
  if (/\s/.test(key)) return `the variable name "${key}" contains whitespace`;
  return undefined;
}

export function checkLabel(key: string, value: string): string | undefined {
  if (key.trim() === '') return 'a label needs a name';
  if (hasNul(key) || hasNul(value)) return 'a label cannot contain a NUL byte';
  return undefined;
}

const USER_PART = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*\$?$/;

/** USER or USER:GROUP, each a name or a numeric id (resolved against the image at start). */
export function checkUser(v: string): string | undefined {
  const parts = v.split(':');
  if (v.length > 256 || parts.length > 2 || parts.some((p) => !USER_PART.test(p))) return 'expected USER or USER:GROUP, each a name or a numeric id';
  return undefined;
}

/** An absolute path (inside the container or on the host): starts with "/", no NUL byte. */
export function checkAbsolutePath(v: string): string | undefined {
  if (!v.startsWith('/')) return 'expected an absolute path';
  if (hasNul(v)) return 'a path cannot contain a NUL byte';
  if (v.length > 4096) return 'a path is at most 4096 characters (PATH_MAX)';
  return undefined;
}

/** "0-3,5" (at most 1024 characters) */
export function checkCpuset(v: string): string | undefined {
  if (v.length > 1024) return 'a CPU list is at most 1024 characters';
  const ok = v.split(',').every((part) => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    return m !== null && (m[2] === undefined || Number(m[1]) <= Number(m[2]));
  });
  return ok ? undefined : 'expected a list of CPU numbers and ranges such as 0-3,5';
}

/**
 * A host address to publish on: "" (all), or an IPv4 address — not a name (it
 * goes into an iptables rule as is), and not IPv6 (berth's networks publish
 * on IPv4 only; the networks service would refuse it only at start).
 */
export function checkHostIp(v: string): string | undefined {
  if (v === '' || isIP(v) === 4) return undefined;
  if (isIP(v) === 6) return 'IPv6 host addresses are not supported: berth publishes ports on IPv4 addresses';
  return 'expected an IPv4 address (or empty for all addresses), not a host name';
}

export const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;

/** "80", "80/tcp", "53/udp": a port Docker's EXPOSE or `-p` names. */
export function checkExposedPort(v: string): string | undefined {
  const m = /^(\d{1,5})(?:\/([a-z]+))?$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535 || (m[2] !== undefined && !(PROTOCOLS as readonly string[]).includes(m[2]))) {
    return 'expected PORT[/tcp|udp|sctp] with a port from 1 to 65535';
  }
  return undefined;
}

/** bridge | none | host | default | container:<name|id> | a network name. */
export function checkNetworkMode(v: string): string | undefined {
  const form = 'expected bridge, none, host, container:<name|id> or a network name';
  if (v === 'bridge' || v === 'none' || v === 'host' || v === 'default') return undefined;
  if (v.startsWith('container:')) {
    return /^container:[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v) && v.length <= 'container:'.length + MAX_NAME_LENGTH ? undefined : `container name or id missing or invalid; ${form}`;
  }
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v) && v.length <= MAX_NAME_LENGTH ? undefined : form;
}

/** Capabilities of Linux 6.x (capability.h), without the CAP_ prefix. */
export const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** "net_admin", "CAP_NET_ADMIN", "all" -> "CAP_NET_ADMIN" / "ALL"; undefined when unknown. */
export function normalizeCapability(v: string): string | undefined {
  const up = v.toUpperCase();
  if (up === 'ALL') return 'ALL';
  const bare = up.startsWith('CAP_') ? up.slice(4) : up;
  return (CAPABILITIES as readonly string[]).includes(bare) ? `CAP_${bare}` : undefined;
}

/** Linux's signal numbers (signal(7), x86 and arm). */
export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19,
  SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** "TERM", "sigterm", "15", "SIGRTMIN+3" -> the canonical name ("SIGTERM"); undefined for anything else. */
export function normalizeSignalName(s: string): string | undefined {
  if (/^\d{1,3}$/.test(s)) {
    const n = Number(s);
    const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === n);
    if (name) return name;
    if (n >= 34 && n <= 64) return `SIGRTMIN+${n - 34}`;
    return undefined;
  }
  const up = s.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  if (name in SIGNALS) return name;
  const rt = /^SIGRTMIN\+(\d{1,2})$/.exec(name);
  if (rt && Number(rt[1]) <= 30) return name;
  return undefined;
}

/** Docker's lower bound for --memory (6 MiB since 20.10: below it the runtime itself cannot start). */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** cgroup v1 cpu.shares' upper bound (kernel MAX_SHARES). */
export const MAX_CPU_SHARES = 262144;
/** Docker's lower bound for --cpus: 0.01 CPU. */
export const MIN_NANO_CPUS = 10_000_000;
