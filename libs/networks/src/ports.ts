// Published-port specs, parsed the way `docker run -p` reads them:
//   containerPort[/proto]                    ephemeral host port on all addresses
//   hostPort:containerPort[/proto]
//   hostIP:hostPort:containerPort[/proto]
//   hostIP::containerPort[/proto]            ephemeral host port on hostIP
//   hostStart-hostEnd:ctrStart-ctrEnd[/proto] equal-length ranges, pairwise
//   hostStart-hostEnd:containerPort[/proto]   the first free host port of the range
//   ctrStart-ctrEnd[/proto]                  a range, each with an ephemeral port
// proto is tcp (default) or udp. IPv6 host addresses go in brackets ([::1]:80:80).
import { InvalidArgumentError } from '@berth/errors';
import { parseIp } from './ipv4';

export type Protocol = 'tcp' | 'udp';

/** One host port -> container port mapping. hostPort 0 means "choose one". */
export interface PortMapping {
  /** Host address the rule matches; '' means every host address (0.0.0.0). */
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
  /** In a request: publish the first free port of hostPort..hostPortEnd. Never set on an attachment's ports. */
  hostPortEnd?: number;
}

function parsePort(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new InvalidArgumentError(`ports: "${spec}": "${text}" is not a port number 1-65535`, { field: 'ports' });
  }
  return Number(text);
}

function parseRange(text: string, spec: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(text);
  if (!m) {
    const p = parsePort(text, spec);
    return [p, p];
  }
  const a = parsePort(m[1]!, spec);
  const b = parsePort(m[2]!, spec);
  if (b < a) throw new InvalidArgumentError(`ports: "${spec}": range ${text} ends before it starts`, { field: 'ports' });
  return [a, b];
}

/** Parses one `-p` value into one mapping per container port. */
export function parsePortSpec(spec: string): PortMapping[] {
  let rest = spec.trim();
  let protocol: Protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') {
      throw new InvalidArgumentError(`ports: "${spec}": protocol must be tcp or udp, not "${p}"`, { field: 'ports' });
    }
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
  if (v6) {
    hostIp = v6[1]!;
    rest = v6[2]!;
  }
  const parts = rest.split(':');
  let hostPart = '';
  let ctrPart: string;
  if (parts.length === 1) {
    ctrPart = parts[0]!;
  } else if (parts.length === 2) {
    [hostPart, ctrPart] = parts as [string, string];
  } else if (parts.length === 3 && !v6) {
    hostIp = parts[0]!;
    hostPart = parts[1]!;
    ctrPart = parts[2]!;
  } else {
    throw new InvalidArgumentError(`ports: "${spec}" is not [hostIP:][hostPort:]containerPort[/tcp|udp]`, { field: 'ports' });
  }
  if (hostIp && !v6) parseIp(hostIp, 'ports');
  if (hostIp === '0.0.0.0') hostIp = '';
  const [c0, c1] = parseRange(ctrPart, spec);
  const count = c1 - c0 + 1;
  let h0 = 0;
  if (hostPart !== '') {
    const [a, b] = parseRange(hostPart, spec);
    if (count === 1 && b > a) return [{ hostIp, hostPort: a, hostPortEnd: b, containerPort: c0, protocol }];
    if (b - a + 1 !== count) {
      throw new InvalidArgumentError(
        `ports: "${spec}": host range ${hostPart} and container range ${ctrPart} differ in length`, { field: 'ports' });
    }
    h0 = a;
  }
  const out: PortMapping[] = [];
  for (let i = 0; i < count; i++) out.push({ hostIp, hostPort: h0 === 0 ? 0 : h0 + i, containerPort: c0 + i, protocol });
  return out;
}

/** Key under which a host port is reserved. 0.0.0.0 conflicts with every address. */
export function portKey(m: Pick<PortMapping, 'hostIp' | 'hostPort' | 'protocol'>): string {
  return `${m.hostIp || '0.0.0.0'}:${m.hostPort}/${m.protocol}`;
}

/** True when two mappings would claim the same host socket. */
export function portsConflict(a: PortMapping, b: PortMapping): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort || a.hostPort === 0) return false;
  return a.hostIp === '' || b.hostIp === '' || a.hostIp === b.hostIp;
}

export function formatPort(m: PortMapping): string {
  return `${m.hostIp || '0.0.0.0'}:${m.hostPort}->${m.containerPort}/${m.protocol}`;
}
