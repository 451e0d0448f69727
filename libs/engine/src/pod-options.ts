// The options a Kubernetes pod needs of its containers, in Docker's terms:
// namespace sharing (--ipc, --pid, --uts: "host" or "container:<id>", the
// pod's pause container), --sysctl, --dns/--dns-search/--dns-option,
// --group-add, MaskedPaths/ReadonlyPaths and --oom-score-adj. Checked here
// when the request arrives; applied by the run plan (createProcess,
// bindHostsResolv) and the namespaces port (which resolves container:<id> to
// that container's namespace handle when the process is created).
import { InvalidArgumentError } from '@berth/errors';
import type { HostConfig } from './types';
import { parseGroup } from './user';

export interface WirePodOptions {
  ipcMode?: string; pidMode?: string; utsMode?: string; sysctls?: Record<string, string>;
  dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[]; groupAdd?: string[];
  maskedPaths?: string[]; readonlyPaths?: string[]; oomScoreAdj?: number | null;
}

export type PodOptions = Pick<HostConfig, 'ipcMode' | 'pidMode' | 'utsMode' | 'sysctls' | 'dns' | 'dnsSearch' | 'dnsOptions' | 'groupAdd' | 'maskedPaths' | 'readonlyPaths' | 'oomScoreAdj'>;

/** "" | "host" | "container:<name|id>"; Docker's "private" (and "shareable" for ipc) are "". */
function modeFromWire(mode: string | undefined, field: string, extra: string[] = []): string {
  const m = mode ?? '';
  if (m === '' || m === 'private' || extra.includes(m)) return '';
  if (m === 'host') return m;
  if (m.startsWith('container:') && m.length > 'container:'.length) return m;
  throw new InvalidArgumentError(`invalid ${field.replace('host_config.', '')} "${m}": expected host, private or container:<name|id>`, { field });
}

function pathsFromWire(list: string[] | undefined, field: string): string[] | undefined {
  if (!list?.length) return undefined;
  list.forEach((p, i) => {
    if (!p.startsWith('/')) throw new InvalidArgumentError(`${field.replace('host_config.', '')} entry "${p}" is not an absolute path`, { field: `${field}[${i}]` });
  });
  return [...list];
}

export function podOptionsFromWire(w: WirePodOptions): PodOptions {
  const out: PodOptions = {};
  const ipc = modeFromWire(w.ipcMode, 'host_config.ipc_mode', ['shareable']);
  const pid = modeFromWire(w.pidMode, 'host_config.pid_mode');
  const uts = modeFromWire(w.utsMode, 'host_config.uts_mode');
  if (ipc) out.ipcMode = ipc;
  if (pid) out.pidMode = pid;
  if (uts) out.utsMode = uts;
  const sysctls = w.sysctls ?? {};
  for (const [k, v] of Object.entries(sysctls)) {
    if (!/^[a-z0-9_]+(?:[./][a-zA-Z0-9_-]+)+$/.test(k)) throw new InvalidArgumentError(`invalid sysctl name "${k}": expected a dotted kernel parameter such as net.ipv4.ip_forward`, { field: `host_config.sysctls[${k}]` });
    if (v.includes('\n')) throw new InvalidArgumentError(`invalid value for sysctl ${k}: it holds a newline`, { field: `host_config.sysctls[${k}]` });
  }
  if (Object.keys(sysctls).length) out.sysctls = { ...sysctls };
  if (w.dns?.length) out.dns = [...w.dns];
  if (w.dnsSearch?.length) out.dnsSearch = [...w.dnsSearch];
  if (w.dnsOptions?.length) out.dnsOptions = [...w.dnsOptions];
  for (const [i, v] of [...(w.dns ?? []), ...(w.dnsSearch ?? []), ...(w.dnsOptions ?? [])].entries()) {
    if (!v || /\s/.test(v)) throw new InvalidArgumentError(`invalid DNS setting "${v}": empty or holding white space`, { field: `host_config.dns[${i}]` });
  }
  if (w.groupAdd?.length) {
    w.groupAdd.forEach((g, i) => {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(g)) throw new InvalidArgumentError(`invalid group "${g}": expected a group number or name`, { field: `host_config.group_add[${i}]` });
    });
    out.groupAdd = [...w.groupAdd];
  }
  const masked = pathsFromWire(w.maskedPaths, 'host_config.masked_paths');
  const readonly = pathsFromWire(w.readonlyPaths, 'host_config.readonly_paths');
  if (masked) out.maskedPaths = masked;
  if (readonly) out.readonlyPaths = readonly;
  if (w.oomScoreAdj !== undefined && w.oomScoreAdj !== null) {
    if (!Number.isInteger(w.oomScoreAdj) || w.oomScoreAdj < -1000 || w.oomScoreAdj > 1000) {
      throw new InvalidArgumentError(`invalid oom_score_adj ${w.oomScoreAdj}: expected -1000 to 1000`, { field: 'host_config.oom_score_adj' });
    }
    out.oomScoreAdj = w.oomScoreAdj;
  }
  return out;
}

/** The container named by a "container:<id>" mode, or undefined for "" and "host". */
export function sharedWith(mode: string | undefined): string | undefined {
  return mode?.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

/** --group-add entries as gids: numbers as they are, names looked up in the container's /etc/group. */
export function groupAddGids(groupAdd: string[] | undefined, groupFile: string | null): number[] {
  const groups = groupFile === null ? [] : parseGroup(groupFile);
  return (groupAdd ?? []).map((g, i) => {
    if (/^\d+$/.test(g)) return Number(g);
    const found = groups.find((x) => x.name === g);
    if (!found) throw new InvalidArgumentError(`unable to find group ${g}: no matching entry in the container's /etc/group`, { field: `host_config.group_add[${i}]` });
    return found.gid;
  });
}

/** The pod options of a host config, as the namespaces port takes them. */
export function podOptionsOf(h: HostConfig): PodOptions {
  return {
    ipcMode: h.ipcMode ?? '', pidMode: h.pidMode ?? '', utsMode: h.utsMode ?? '', sysctls: h.sysctls ?? {},
    ...(h.maskedPaths ? { maskedPaths: h.maskedPaths } : {}), ...(h.readonlyPaths ? { readonlyPaths: h.readonlyPaths } : {}),
    ...(h.oomScoreAdj !== undefined ? { oomScoreAdj: h.oomScoreAdj } : {}),
  };
}
