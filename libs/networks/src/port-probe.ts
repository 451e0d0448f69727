// Host-port checks and ephemeral port choice. portmap only installs DNAT
// rules, it does not hold the host socket, so nothing in the kernel stops two
// containers (or a container and a host daemon) from claiming one port: berth
// checks its own table and probes with a bind before it hands a port out.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Protocol } from './ports';

export type PortProbe = 'free' | 'in-use' | 'no-such-address';

/** Whether a process on the host could bind hostIp:port right now. */
export function probeHostPort(hostIp: string, port: number, protocol: Protocol): Promise<PortProbe> {
  const addr = hostIp || '0.0.0.0';
  const verdict = (e: NodeJS.ErrnoException): PortProbe => (e.code === 'EADDRNOTAVAIL' ? 'no-such-address' : 'in-use');
  return new Promise((resolve) => {
    if (protocol === 'tcp') {
      const s = createServer();
      s.once('error', (e) => resolve(verdict(e)));
      s.listen({ port, host: addr, exclusive: true }, () => s.close(() => resolve('free')));
    } else {
      const s = createSocket(addr.includes(':') ? 'udp6' : 'udp4');
      s.once('error', (e) => { s.close(); resolve(verdict(e)); });
      s.bind({ port, address: addr, exclusive: true }, () => s.close(() => resolve('free')));
    }
  });
}

/** The kernel's ephemeral range (net.ipv4.ip_local_port_range), as Docker uses. */
export function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (a && b && a <= b) return [a, b];
  } catch { /* fall through */ }
  return [49153, 60999];
}
