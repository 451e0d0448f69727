// IPv4 address and CIDR arithmetic used for subnets, gateways and route
// collision checks. Addresses are unsigned 32-bit numbers internally.
import { InvalidArgumentError } from '@berth/errors';

export interface Cidr {
  /** Network address (host bits zero). */
  network: number;
  /** Prefix length, 0..32. */
  prefix: number;
}

export function parseIp(text: string, field = 'ip'): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw new InvalidArgumentError(`${field}: "${text}" is not an IPv4 address`, { field });
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) {
      throw new InvalidArgumentError(`${field}: "${text}" is not an IPv4 address`, { field });
    }
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/n"; host bits must be zero unless `allowHostBits`. */
export function parseCidr(text: string, field = 'subnet', allowHostBits = false): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m || Number(m[2]) > 32) throw new InvalidArgumentError(`${field}: "${text}" is not an IPv4 CIDR like 10.213.0.0/24`, { field });
  const ip = parseIp(m[1]!, field);
  const prefix = Number(m[2]);
  const network = (ip & maskOf(prefix)) >>> 0;
  if (!allowHostBits && network !== ip) {
    throw new InvalidArgumentError(`${field}: "${text}" has host bits set; did you mean ${formatIp(network)}/${prefix}?`, { field });
  }
  return { network, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.network)}/${c.prefix}`;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.network;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const m = maskOf(p);
  return ((a.network & m) >>> 0) === ((b.network & m) >>> 0);
}

/** Broadcast address of c. */
export function lastAddress(c: Cidr): number {
  return (c.network | (~maskOf(c.prefix) >>> 0)) >>> 0;
}

/**
 * Ranges a bridge network cannot use (RFC 6890): an address there on a bridge
 * with a MASQUERADE rule shadows the host's own loopback, reaches multicast
 * groups or link-local peers instead of containers, or is not an address at
 * all. Returns what `c` overlaps, or undefined.
 */
const SPECIAL: Array<[string, string]> = [
  ['0.0.0.0/8', '"this network" (0.0.0.0/8) is not an address range'],
  ['127.0.0.0/8', 'it is the loopback range (127.0.0.0/8)'],
  ['169.254.0.0/16', 'it is the link-local range (169.254.0.0/16)'],
  ['224.0.0.0/4', 'it is the multicast range (224.0.0.0/4)'],
  ['240.0.0.0/4', 'it is the reserved range (240.0.0.0/4, with the broadcast address)'],
];

export function specialRange(c: Cidr): string | undefined {
  for (const [range, why] of SPECIAL) if (overlaps(c, parseCidr(range))) return why;
  return undefined;
}

/** The largest subnet a network may take: a /8 (a shorter prefix covers special ranges or much of the Internet). */
export const MIN_SUBNET_PREFIX = 8;

/**
 * Candidate pools for automatic subnets, in Docker's order: 172.17-31/16, then
 * 192.168.x.0/20. The default network takes the first candidate that overlaps
 * no route already on the host and no other berth network.
 */
export function defaultSubnetCandidates(): Cidr[] {
  const out: Cidr[] = [];
  for (let b = 17; b <= 31; b++) out.push({ network: parseIp(`172.${b}.0.0`), prefix: 16 });
  for (let c = 0; c < 256; c += 16) out.push({ network: parseIp(`192.168.${c}.0`), prefix: 20 });
  return out;
}

/** First candidate overlapping none of `taken`. */
export function pickFreeSubnet(candidates: Cidr[], taken: Cidr[]): Cidr | undefined {
  return candidates.find((c) => !taken.some((t) => overlaps(c, t)));
}
