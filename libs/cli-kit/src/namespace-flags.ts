// run/create's namespace, DNS and process-identity flags, as Docker's CLI
// takes them: --ipc (private|shareable|host|container:<name|id>), --pid
// (host|container:<name|id>), --uts host, --sysctl KEY=VALUE (namespaced
// parameters only, container-config sysctl.ts), --dns (IP addresses),
// --dns-search, --dns-option, --group-add, --oom-score-adj. The engine
// checks the same again (pod-options.ts, namespace-options.ts) for every
// client.
import { checkSysctl, type HostConfig } from '@berth/container-config';
import { InvalidArgumentError } from '@berth/errors';
import type { FlagDef, ParsedCommand } from './command';
import { invalidFlagValue } from './command';
import { NAMESPACE_FLAGS } from './run-flags';

export { NAMESPACE_FLAGS };

const flagOf = (name: string): FlagDef => NAMESPACE_FLAGS.find((f) => f.name === name)!;

function mode(p: ParsedCommand, name: 'ipc' | 'pid' | 'uts', allowed: string[]): string {
  if (!p.changed.has(name)) return '';
  const v = p.flags[name] as string;
  if (allowed.includes(v)) return v === 'private' || v === 'shareable' ? '' : v;
  if (name !== 'uts' && /^container:[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v)) return v;
  if (v === 'none' && name === 'ipc') throw invalidFlagValue(flagOf(name), v, 'not supported: every berth container has an IPC namespace with its own /dev/shm (use private)');
  throw invalidFlagValue(flagOf(name), v, `expected ${allowed.join(', ')}${name !== 'uts' ? ' or container:<name|id>' : ''}`);
}

/** The HostConfig fields these flags set (only those given); `networkMode` and `hostname` for the checks across flags. */
export function namespaceOptionsFromFlags(p: ParsedCommand, networkMode: string, hostname: string): Partial<HostConfig> {
  const out: Partial<HostConfig> = {};
  const ipc = mode(p, 'ipc', ['private', 'shareable', 'host']);
  const pid = mode(p, 'pid', ['host']);
  const uts = mode(p, 'uts', ['host']);
  if (ipc) out.ipcMode = ipc;
  if (pid) out.pidMode = pid;
  if (uts) out.utsMode = uts;
  if (uts === 'host' && hostname) throw new InvalidArgumentError('conflicting options: --hostname and --uts host (the container keeps the host\'s hostname)', { field: 'hostname' });
  const list = (n: string) => p.flags[n] as string[];
  const sysctls: Record<string, string> = {};
  for (const s of list('sysctl')) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw invalidFlagValue(flagOf('sysctl'), s, 'expected KEY=VALUE, as in net.ipv4.ip_forward=1');
    const [k, v] = [s.slice(0, eq), s.slice(eq + 1)];
    const why = checkSysctl(k, v, { networkMode, ipcMode: ipc, utsMode: uts });
    if (why) throw invalidFlagValue(flagOf('sysctl'), s, why);
    sysctls[k] = v;
  }
  if (Object.keys(sysctls).length) out.sysctls = sysctls;
  // node:net only when an address is checked (the CLI loads this module at every start).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const isIP = (v: string): number => (require('node:net') as typeof import('node:net')).isIP(v);
  for (const d of list('dns')) if (!isIP(d)) throw invalidFlagValue(flagOf('dns'), d, 'expected an IP address of a DNS server');
  for (const [name, field] of [['dns', 'dns'], ['dns-search', 'dnsSearch'], ['dns-option', 'dnsOptions']] as const) {
    const values = list(name);
    for (const v of values) if (v === '' || /\s/.test(v)) throw invalidFlagValue(flagOf(name), v, 'empty or holding white space');
    if (values.length) out[field] = [...values];
  }
  const groups = list('group-add');
  for (const g of groups) if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(g)) throw invalidFlagValue(flagOf('group-add'), g, 'expected a group number or name');
  if (groups.length) out.groupAdd = [...groups];
  if (p.changed.has('oom-score-adj')) {
    const n = p.flags['oom-score-adj'] as number;
    if (n < -1000 || n > 1000) throw invalidFlagValue(flagOf('oom-score-adj'), String(n), 'expected -1000 to 1000');
    out.oomScoreAdj = n;
  }
  return out;
}
