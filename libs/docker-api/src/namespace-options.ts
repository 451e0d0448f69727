// HostConfig's namespace and DNS options from Docker's create body: IpcMode,
// PidMode, UTSMode, Sysctls, Dns, DnsSearch, DnsOptions, GroupAdd,
// OomScoreAdj, into container-config's fields as `berth run` sets them (the
// engine checks them: modes, namespaced sysctls, the container named).
import type { HostConfig } from '@berth/container-config';

type Json = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export function namespaceOptionsOf(h: Json): Partial<HostConfig> {
  const out: Partial<HostConfig> = {};
  const ipc = str(h['IpcMode']);
  if (ipc && ipc !== 'private' && ipc !== 'shareable') out.ipcMode = ipc;
  if (str(h['PidMode'])) out.pidMode = str(h['PidMode']);
  if (str(h['UTSMode'])) out.utsMode = str(h['UTSMode']);
  const sysctls = h['Sysctls'] && typeof h['Sysctls'] === 'object' ? Object.fromEntries(Object.entries(h['Sysctls'] as Json).map(([k, v]) => [k, String(v)])) : {};
  if (Object.keys(sysctls).length) out.sysctls = sysctls;
  if (strList(h['Dns']).length) out.dns = strList(h['Dns']);
  if (strList(h['DnsSearch']).length) out.dnsSearch = strList(h['DnsSearch']);
  if (strList(h['DnsOptions']).length) out.dnsOptions = strList(h['DnsOptions']);
  if (strList(h['GroupAdd']).length) out.groupAdd = strList(h['GroupAdd']);
  if (typeof h['OomScoreAdj'] === 'number' && h['OomScoreAdj'] !== 0) out.oomScoreAdj = h['OomScoreAdj'];
  // Ulimits [{Name, Soft, Hard}]: the process limits of the init.
  const ulimits = (Array.isArray(h['Ulimits']) ? h['Ulimits'] : []).filter((u): u is Json => !!u && typeof u === 'object')
    .map((u) => ({ name: str(u['Name']), soft: typeof u['Soft'] === 'number' ? u['Soft'] : 0, hard: typeof u['Hard'] === 'number' ? u['Hard'] : 0 }));
  if (ulimits.length) out.ulimits = ulimits;
  return out;
}
