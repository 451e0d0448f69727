// Host ports for a container's published ports (docker run -p), as Docker's
// port allocator picks them:
//   -p 8080:80          that port, refused when another container publishes
//                       it (naming it) or a host process listens on it;
//   -p 8000-8010:80     the first port of the range nobody holds;
//   -p 80 (no host port) a free port of the ephemeral range, from a random
//                       start so concurrent runs rarely probe the same one.
// "Holds" means: published by another attachment (`taken`), by an earlier
// port of the same request, or bound on the host right now (port-probe.ts).
// A host address that is not this host's is InvalidArgument.
import { AlreadyExistsError, InvalidArgumentError, ResourceExhaustedError } from '@berth/errors';
import { probeHostPort } from './port-probe';
import { formatPort, portsConflict, type PortMapping } from './ports';

/** A port another attachment publishes, and whose it is (for the error message). */
export interface TakenPort {
  port: PortMapping;
  name: string;
  containerId: string;
}

export async function allocateHostPorts(containerId: string, requested: PortMapping[], taken: TakenPort[], ephemeral: [number, number]): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const holder = (p: PortMapping): TakenPort | undefined => taken.find((t) => portsConflict(t.port, p));
  const heldHere = (p: PortMapping): boolean => holder(p) !== undefined || out.some((o) => portsConflict(o, p));
  /** The first candidate host port nobody holds and no host process binds; 0 when none. */
  const firstFree = async (p: PortMapping, ports: Iterable<number>): Promise<number> => {
    for (const port of ports) {
      const cand = { ...p, hostPort: port, hostPortEnd: 0 };
      if (heldHere(cand)) continue;
      const probe = await probeHostPort(cand.hostIp, cand.hostPort, cand.protocol);
      if (probe === 'no-such-address') throw new InvalidArgumentError(`ports: ${cand.hostIp} is not an address of this host`, { field: 'ports' });
      if (probe === 'free') return port;
    }
    return 0;
  };
  for (const p of requested) {
    const { hostPortEnd: _end, ...one } = p;
    if (p.hostPort && p.hostPortEnd && p.hostPortEnd > p.hostPort) {
      const chosen = await firstFree(p, range(p.hostPort, p.hostPortEnd - p.hostPort + 1, 0));
      if (!chosen) {
        throw new AlreadyExistsError(`ports: every host port of ${p.hostIp || '0.0.0.0'}:${p.hostPort}-${p.hostPortEnd}/${p.protocol} is already in use; publish another range`, { field: 'ports' });
      }
      out.push({ ...one, hostPort: chosen });
      continue;
    }
    if (p.hostPort) {
      const h = holder(p) ?? (out.some((o) => portsConflict(o, p)) ? { port: p, name: '', containerId } : undefined);
      if (h) {
        throw new AlreadyExistsError(`ports: host port ${formatPort(p)} is already published by container ${h.name ? `${h.name} (${h.containerId})` : h.containerId}`, { field: 'ports' });
      }
      const probe = await probeHostPort(p.hostIp, p.hostPort, p.protocol);
      if (probe === 'no-such-address') throw new InvalidArgumentError(`ports: ${p.hostIp} is not an address of this host`, { field: 'ports' });
      if (probe === 'in-use') {
        throw new AlreadyExistsError(`ports: host port ${p.hostIp || '0.0.0.0'}:${p.hostPort}/${p.protocol} is in use by a process on the host`, { field: 'ports' });
      }
      out.push({ ...p });
      continue;
    }
    const [lo, hi] = ephemeral;
    const span = hi - lo + 1;
    const chosen = await firstFree(p, range(lo, span, Math.floor(Math.random() * span)));
    if (!chosen) throw new ResourceExhaustedError(`ports: no free host port in ${lo}-${hi} for ${p.containerPort}/${p.protocol}`, { field: 'ports' });
    out.push({ ...p, hostPort: chosen });
  }
  return out;
}

/** lo..lo+span-1, starting at lo+start and wrapping around. */
function* range(lo: number, span: number, start: number): Iterable<number> {
  for (let i = 0; i < span; i++) yield lo + ((start + i) % span);
}
