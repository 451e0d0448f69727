// What a container shares with the host or another container, and the
// kernel parameters it sets in its own namespaces (--ipc, --pid, --uts,
// --sysctl), checked and resolved at create as Docker does: a
// "container:<name|id>" mode names an existing container and is recorded by
// its full id (the namespaces service knows containers by id; a rename does
// not break the link, as for --network container:); a sysctl must belong to
// a namespace the container has of its own (container-config sysctl.ts).
// pod-options.ts checks the shapes; the namespaces port joins the handles.
import { checkSysctl, quoteValue } from '@berth/container-config';
import { InvalidArgumentError, NotFoundError, isNotFound } from '@berth/errors';
import type { ContainerStore } from './container-store';
import type { HostConfig } from './types';

const MODES = [['ipcMode', 'ipc_mode', '--ipc'], ['pidMode', 'pid_mode', '--pid'], ['utsMode', 'uts_mode', '--uts']] as const;

/** The host config with each `container:<ref>` namespace mode replaced by `container:<full id>`. */
export function resolveSharedNamespaces(store: ContainerStore, h: HostConfig): HostConfig {
  let out = h;
  for (const [key, , flag] of MODES) {
    const mode = h[key];
    if (!mode?.startsWith('container:')) continue;
    const ref = mode.slice('container:'.length);
    try {
      out = { ...out, [key]: `container:${store.find(ref).id}` };
    } catch (e) {
      if (isNotFound(e)) throw new NotFoundError(`${flag} container:${ref}: no such container: ${ref}`, { field: `host_config.${MODES.find((m) => m[0] === key)![1]}` });
      throw e;
    }
  }
  return out;
}

/** Sysctls against the namespaces the container has of its own; --uts host with a hostname, a shared UTS namespace with a domainname. */
export function checkNamespaceOptions(h: HostConfig, hostname: string, domainname = ''): void {
  for (const [k, v] of Object.entries(h.sysctls ?? {})) {
    const why = checkSysctl(k, v, { networkMode: h.networkMode, ipcMode: h.ipcMode ?? '', utsMode: h.utsMode ?? '' });
    if (why) throw new InvalidArgumentError(`invalid host_config.sysctls["${quoteValue(k)}"]: ${why}`, { field: `host_config.sysctls[${k}]` });
  }
  if (h.utsMode === 'host' && hostname) {
    throw new InvalidArgumentError('conflicting options: hostname and the UTS mode host (the container keeps the host\'s hostname)', { field: 'config.hostname' });
  }
  // setdomainname(2) needs a UTS namespace of the container's own: in the
  // host's or another container's it would change theirs.
  if (h.utsMode && domainname) {
    throw new InvalidArgumentError(`conflicting options: domainname and the UTS mode ${h.utsMode} (the container shares that UTS namespace and its domain name)`, { field: 'config.domainname' });
  }
}
