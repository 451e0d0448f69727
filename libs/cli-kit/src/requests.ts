// Validated requests for the commands besides run/create, built from a
// parsed command line (flag names as in commands.ts). Field names follow the
// berth.engine.v1 messages.
import { InvalidArgumentError } from '@berth/errors';
import type { ParsedCommand } from './command';
import { invalidFlagValue } from './command';
import { parseTail } from './commands';
import { checkBlkioWeight, checkCpuPeriod, checkCpuQuota, checkCpuset, type ContainerUpdate } from '@berth/container-config';
import { parseCpus, parseCpuset, parseEnvArg, parseEnvFile, parseMemory, parseMemorySwap, parseRestartPolicy, parseUserSpec } from './opts';
import type { RunEnv } from './run-request';
import { parseBytes, parseTimestampArg } from './units';

export interface ExecRequest {
  container: string;
  args: string[];
  env: string[];
  workingDir: string;
  user: string;
  tty: boolean;
  stdin: boolean;
  detach: boolean;
  privileged: boolean;
}

/** berth exec [OPTIONS] CONTAINER COMMAND [ARG...] */
export function buildExecRequest(p: ParsedCommand, env: RunEnv): ExecRequest {
  const v = p.flags;
  const [container, ...args] = p.args as [string, ...string[]];
  const envs: string[] = [];
  for (const file of v['env-file'] as string[]) {
    let content: string;
    try { content = env.readFile(file); } catch (e) {
      throw invalidFlagValue({ name: 'env-file' }, file, `cannot read the file: ${(e as Error).message}`);
    }
    envs.push(...parseEnvFile({ name: 'env-file' }, file, content, env.lookupEnv));
  }
  for (const e of v.env as string[]) envs.push(parseEnvArg({ name: 'env', short: 'e' }, e, env.lookupEnv));
  const workdir = v.workdir as string;
  if (workdir !== '' && !workdir.startsWith('/')) throw invalidFlagValue({ name: 'workdir', short: 'w' }, workdir, 'the working directory must be an absolute path');
  const user = p.changed.has('user') ? parseUserSpec({ name: 'user', short: 'u' }, v.user as string) : '';
  const detach = v.detach as boolean;
  if (detach && (v.interactive as boolean) && (v.tty as boolean)) {
    // Docker allows -dit (keeps stdin open for a later attach); berth has no exec attach yet.
    throw new InvalidArgumentError('conflicting options: --detach with --interactive and --tty; berth cannot attach to a detached exec later', { field: 'detach' });
  }
  return { container, args, env: envs, workingDir: workdir, user, tty: v.tty as boolean, stdin: v.interactive as boolean, detach, privileged: v.privileged as boolean };
}

/** berth update: the containers, and what changes in each. */
export interface UpdateRequest extends ContainerUpdate {
  containers: string[];
}

/** berth update [OPTIONS] CONTAINER [CONTAINER...]: only the given flags change. */
export function buildUpdateRequest(p: ParsedCommand): UpdateRequest {
  const v = p.flags;
  const has = (n: string): boolean => p.changed.has(n);
  const r: UpdateRequest = { containers: p.args };
  if (has('memory')) r.memory = parseMemory({ name: 'memory', short: 'm' }, v.memory as string);
  if (has('memory-swap')) r.memorySwap = parseMemorySwap({ name: 'memory-swap' }, v['memory-swap'] as string);
  if (has('cpus')) r.nanoCpus = parseCpus({ name: 'cpus' }, v.cpus as string);
  if (has('cpu-shares')) r.cpuShares = v['cpu-shares'] as number;
  if (has('cpuset-cpus')) r.cpusetCpus = parseCpuset({ name: 'cpuset-cpus' }, v['cpuset-cpus'] as string);
  if (has('pids-limit')) r.pidsLimit = v['pids-limit'] as number;
  if (has('restart')) r.restartPolicy = parseRestartPolicy({ name: 'restart' }, v.restart as string);
  if (has('memory-reservation')) {
    const text = v['memory-reservation'] as string;
    const n = parseBytes(text);
    if (n === null) throw invalidFlagValue({ name: 'memory-reservation' }, text, 'expected a number with an optional unit b, k, m, g (64m, 1g, 512k)');
    r.memoryReservation = n;
  }
  const int = (name: string, check: (n: number) => string | undefined): number => {
    const n = v[name] as number;
    const why = check(n);
    if (why) throw invalidFlagValue({ name }, String(n), why);
    return n;
  };
  if (has('cpu-period')) r.cpuPeriod = int('cpu-period', checkCpuPeriod);
  if (has('cpu-quota')) r.cpuQuota = int('cpu-quota', checkCpuQuota);
  if (has('cpuset-mems')) {
    const mems = v['cpuset-mems'] as string;
    const why = checkCpuset(mems);
    if (why) throw invalidFlagValue({ name: 'cpuset-mems' }, mems, why.replace('CPU', 'memory node'));
    r.cpusetMems = mems;
  }
  if (has('blkio-weight')) r.blkioWeight = int('blkio-weight', checkBlkioWeight);
  if (r.nanoCpus && (r.cpuPeriod || (r.cpuQuota ?? 0) > 0)) {
    throw new InvalidArgumentError('conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set (--cpus is a quota over a 100 ms period)', { field: 'cpus' });
  }
  if (Object.keys(r).length === 1) {
    throw new InvalidArgumentError('you must provide one or more flags when using this command (--memory, --memory-swap, --memory-reservation, --cpus, --cpu-shares, --cpu-period, --cpu-quota, --cpuset-cpus, --cpuset-mems, --blkio-weight, --pids-limit, --restart)', { field: 'flags' });
  }
  return r;
}

export interface LogsRequest {
  container: string;
  follow: boolean;
  /** undefined = all. */
  tail: number | undefined;
  /** Docker wire form "<sec>.<ns>", "" = unbounded. */
  since: string;
  until: string;
  timestamps: boolean;
}

/** berth logs [OPTIONS] CONTAINER */
export function buildLogsRequest(p: ParsedCommand, nowMs: number): LogsRequest {
  const v = p.flags;
  const tail = parseTail(v.tail as string);
  const since = (v.since as string) ? parseTimestampArg(v.since as string, nowMs, '--since') : '';
  const until = (v.until as string) ? parseTimestampArg(v.until as string, nowMs, '--until') : '';
  if (since && until && Number(since) > Number(until)) {
    throw new InvalidArgumentError(`--since (${v.since as string}) is after --until (${v.until as string})`, { field: 'since' });
  }
  return { container: p.args[0]!, follow: v.follow as boolean, tail: tail < 0 ? undefined : tail, since, until, timestamps: v.timestamps as boolean };
}
