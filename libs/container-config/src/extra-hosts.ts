// --add-host / HostConfig.ExtraHosts: more lines of a container's /etc/hosts,
// "name:ip" (or "name=ip", as Docker 25+ also takes), where ip may be
// "host-gateway": the host's address on berth's default bridge, as Docker's
// host-gateway-ip defaults to docker0's.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const isIP = (v: string): number => (require('node:net') as typeof import('node:net')).isIP(v);

/** The word that stands for the host's address on the default bridge. */
export const HOST_GATEWAY = 'host-gateway';

export interface ExtraHost {
  name: string;
  /** An address, or HOST_GATEWAY. */
  ip: string;
}

/** Parses "name:ip" or "name=ip"; the reason it is not one, or the entry. */
export function parseExtraHost(v: string): ExtraHost | { error: string } {
  const sep = v.includes('=') ? v.indexOf('=') : v.indexOf(':');
  if (sep <= 0) return { error: 'expected HOST:IP (or HOST=IP), e.g. db:10.0.0.5 or host.docker.internal:host-gateway' };
  const name = v.slice(0, sep);
  // An IPv6 address may come in brackets: name:[::1].
  const ip = v.slice(sep + 1).replace(/^\[(.*)\]$/, '$1');
  if (!/^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$/.test(name) || name.length > 253) return { error: `"${name}" is not a host name` };
  if (ip !== HOST_GATEWAY && !isIP(ip)) return { error: `"${ip}" is not an IP address or ${HOST_GATEWAY}` };
  return { name, ip };
}
