// The namespaces of a container's spec when it shares some (--ipc, --pid,
// --uts "host" or "container:<id>"; a Kubernetes pod's containers share the
// pause container's): "host" leaves the type out (the host's is kept),
// "container:<id>" joins that container's persistent handle (the namespaces
// service keeps one per namespace type it made, for as long as the container
// exists), anything else makes a new one.
import { FailedPreconditionError } from '@berth/errors';
import type { typesV1 } from '@berth/proto';
import { sharedWith, type PodOptions } from '../pod-options';

/** The handles a container's namespaces service record has, by OCI type ("ipc" -> path). */
export type HandlesOf = (id: string) => Promise<Record<string, string>>;

const MODES: [keyof Pick<PodOptions, 'ipcMode' | 'pidMode' | 'utsMode'>, 'ipc' | 'pid' | 'uts', string][] = [
  ['pidMode', 'pid', 'host_config.pid_mode'], ['ipcMode', 'ipc', 'host_config.ipc_mode'], ['utsMode', 'uts', 'host_config.uts_mode'],
];

/** pid, ipc and uts entries of linux.namespaces for these options. */
export async function sharedNamespaces(pod: PodOptions | undefined, handlesOf: HandlesOf): Promise<typesV1.LinuxNamespace[]> {
  const out: typesV1.LinuxNamespace[] = [];
  for (const [key, type, field] of MODES) {
    const mode = pod?.[key] ?? '';
    if (mode === 'host') continue;
    const other = sharedWith(mode);
    if (!other) {
      out.push({ type });
      continue;
    }
    const path = (await handlesOf(other))[type];
    if (!path) throw new FailedPreconditionError(`container ${other} has no ${type} namespace to share: is it running?`, { field });
    out.push({ type, path });
  }
  return out;
}
