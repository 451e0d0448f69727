// --ulimit NAME=SOFT[:HARD] (Docker's Ulimit {Name, Soft, Hard}): the
// process limits (setrlimit(2)) the container's init starts with. Names as
// Docker spells them (nofile, nproc, core...); -1 is unlimited. The shape
// rule is shared by the CLI and the engine; the kernel refuses a hard limit
// above the one berth runs with unless it has CAP_SYS_RESOURCE.

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** Docker's names (moby pkg/ulimit) -> RLIMIT_*. */
export const ULIMIT_NAMES: Readonly<Record<string, string>> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS', memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

/** Why `u` is not a limit that can be set, or undefined. */
export function checkUlimit(u: Ulimit): string | undefined {
  if (!(u.name in ULIMIT_NAMES)) return `unknown ulimit "${u.name}": expected one of ${Object.keys(ULIMIT_NAMES).join(', ')}`;
  for (const v of [u.soft, u.hard]) if (!Number.isInteger(v) || v < -1) return 'a limit is a whole number >= 0, or -1 for unlimited';
  if (u.hard !== -1 && (u.soft === -1 || u.soft > u.hard)) return `the soft limit (${u.soft}) cannot exceed the hard limit (${u.hard})`;
  return undefined;
}

/** "nofile=1024:2048" or "nofile=1024" (hard = soft). */
export function parseUlimit(v: string): Ulimit | { error: string } {
  const m = /^([a-z]+)=(-1|\d{1,19})(?::(-1|\d{1,19}))?$/.exec(v);
  if (!m) return { error: 'expected NAME=SOFT[:HARD], as in nofile=1024:2048' };
  const u = { name: m[1]!, soft: Number(m[2]), hard: Number(m[3] ?? m[2]) };
  const why = checkUlimit(u);
  return why ? { error: why } : u;
}
