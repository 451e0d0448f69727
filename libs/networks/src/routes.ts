// Reads the host's IPv4 routing table (/proc/net/route) so automatic subnets
// never shadow a route the host already uses. The default route (0.0.0.0/0)
// is skipped: every subnet overlaps it, and a container subnet is meant to be
// more specific than it.
import { readFile } from 'node:fs/promises';
import type { Cidr } from './ipv4';

export interface Route extends Cidr { iface: string }

/** Parses /proc/net/route text (Destination and Mask columns). */
export function parseProcRoutes(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = Buffer.from(f[1]!, 'hex').readUInt32LE(0);
    const mask = Buffer.from(f[7]!, 'hex').readUInt32LE(0);
    if (mask === 0) continue;
    // A contiguous netmask's popcount is its prefix length.
    let prefix = 0;
    for (let m = mask; m; m >>>= 1) prefix += m & 1;
    // The kernel prints the address in network order as a host (LE) integer,
    // so reading the hex bytes little-endian yields the address big-end first.
    out.push({ network: dest >>> 0, prefix, iface: f[0]! });
  }
  return out;
}

export async function hostRoutes(path = '/proc/net/route'): Promise<Route[]> {
  return parseProcRoutes(await readFile(path, 'utf8'));
}
