// Content of /etc/hosts and /etc/resolv.conf for a container; the engine
// writes them into the container's state dir and bind-mounts them.

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

/** Parses resolv.conf text (nameserver, search/domain, options; comments dropped). */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search') out.search = rest;
    else if (key === 'domain' && rest[0]) out.search = [rest[0]];
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

export function isLoopbackAddress(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip === '0:0:0:0:0:0:0:1';
}

export function formatResolvConf(r: ResolvConf, comment?: string): string {
  const lines: string[] = [];
  if (comment) lines.push(`# ${comment}`);
  for (const n of r.nameservers) lines.push(`nameserver ${n}`);
  if (r.search.length) lines.push(`search ${r.search.join(' ')}`);
  if (r.options.length) lines.push(`options ${r.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

const LOCALHOST = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** /etc/hosts: the localhost lines, then `ip hostname name...` per own address. */
export function formatHosts(own: { ip: string; names: string[] }[], extra: { ip: string; names: string[] }[] = []): string {
  const lines = [...LOCALHOST];
  for (const e of [...own, ...extra]) {
    const names = [...new Set(e.names.filter(Boolean))];
    if (names.length) lines.push(`${e.ip}\t${names.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}
