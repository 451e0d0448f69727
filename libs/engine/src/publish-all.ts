// -P / --publish-all (Docker's HostConfig.PublishAllPorts): every port the
// container exposes (its own --expose and -p ports and its image's EXPOSE,
// as merged at create) that no -p binds gets a free host port on all
// addresses at each start, as Docker's daemon does it.
import type { ContainerConfig, HostConfig, PortBinding } from './types';

export function portBindingsOf(h: HostConfig, merged: ContainerConfig | undefined): PortBinding[] {
  if (!h.publishAllPorts || !merged) return h.portBindings;
  const bound = new Set(h.portBindings.map((b) => `${b.containerPort}/${b.protocol}`));
  const extra = merged.exposedPorts.filter((p) => !bound.has(p.includes('/') ? p : `${p}/tcp`)).map((p): PortBinding => {
    const [port, protocol = 'tcp'] = p.split('/');
    return { containerPort: Number(port), protocol, hostIp: '', hostPort: 0 };
  });
  return [...h.portBindings, ...extra];
}
