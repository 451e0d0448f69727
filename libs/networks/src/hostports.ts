// Host-port checks and ephemeral port choice. portmap only installs DNAT
// rules, it does not hold the host socket, so nothing in the kernel stops two
// containers (or a container and a host daemon) from claiming one port: berth
// checks its own table and probes with a bind before it hands a port out.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Protocol } from './ports';

/** True when a process on the host could bind hostIp:port right now. */
export function hostPortFree(hostIp: string, port: number, protocol: Protocol): Promise<boolean> {
  const addr = hostIp || (hostIp.includes(':') ? '::' : '0.0.0.0');
  return new Promise((resolve) => {
    if (protocol === 'tcp') {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen({ port, host: addr, exclusive: true }, () => s.close(() => resolve(true)));
    } else {
      const s = createSocket(addr.includes(':') ? 'udp6' : 'udp4');
      s.once('error', () => { s.close(); resolve(false); });
      s.bind({ port, address: addr, exclusive: true }, () => s.close(() => resolve(true)));
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
