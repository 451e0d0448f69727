// The engine HostConfig of a pod's pause container: the namespaces the pod
// shares (network unless host network; IPC unless host IPC), the pod's port
// mappings as published ports, its DNS and sysctls, and the kubelet's cgroup
// parent (validated in sandboxes.ts, naming the CRI field).
import type { engineV1, runtimeV1 } from '@berth/proto';
import type { CriRecord } from './metadata';

/** The CRI network pods attach to: berth's default bridge. */
export const POD_NETWORK = 'bridge';

export function sandboxHostConfig(c: runtimeV1.PodSandboxConfig__Output, r: CriRecord): engineV1.HostConfig {
  return {
    networkMode: r.hostNetwork ? 'host' : POD_NETWORK,
    // A host port of 0 means "not published" in the CRI.
    portBindings: r.hostNetwork ? [] : c.portMappings.filter((p) => p.hostPort > 0).map((p) => ({
      containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIp, protocol: p.protocol.toLowerCase(),
    })),
    // berth-init as pid 1: it reaps the pod's orphans when the pod shares one PID namespace.
    init: true,
    securityOpt: ['no-new-privileges'],
    ipcMode: r.hostIpc ? 'host' : '',
    pidMode: r.hostPid ? 'host' : '',
    // A pod on the host's network has the host's hostname (containerd does the same).
    utsMode: r.hostNetwork ? 'host' : '',
    sysctls: c.linux?.sysctls ?? {},
    // kubelet's /kubepods/<qos>/pod<uid>: nested inside berth's cgroup parent by the engine.
    cgroupParent: r.cgroupParent ?? '',
    dns: r.dns?.servers ?? [], dnsSearch: r.dns?.searches ?? [], dnsOptions: r.dns?.options ?? [],
  };
}
