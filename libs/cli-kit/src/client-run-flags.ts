// run/create flags that the client settles before the engine is called, as
// Docker's CLI does: --label-file (read here; --label wins over it),
// --expose (ports and ranges added to the config's exposed ports),
// --network-alias (the container's extra DNS names on its network),
// --platform (berth runs the host's platform only: anything else is refused
// naming it), --cidfile (the id written to a file that must not exist yet),
// --quiet (no pull output: the engine pulls without progress for run), and
// run's --detach-keys and --sig-proxy (how the attached CLI behaves).
import { isIPv4 } from 'node:net';
import { arch } from 'node:os';
import { InvalidArgumentError } from '@berth/errors';
import { checkExposedPort, checkStorageOpts, parseCgroupParent, parseExtraHost, parseMacAddress } from '@berth/container-config';
import type { FlagDef, ParsedCommand } from './command';
import { invalidFlagValue } from './command';
import { CLIENT_RUN_FLAGS } from './run-flags';
import { parseLabel } from './opts';

export { CLIENT_RUN_FLAGS };

const flagOf = (name: string): FlagDef => CLIENT_RUN_FLAGS.find((f) => f.name === name)!;

/** Node's arch as an OCI/Go one. */
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64' };

/** What these flags add to a run/create request. */
export interface ClientRunOptions {
  labels: Record<string, string>;
  exposedPorts: string[];
  networkAliases: string[];
  /** --add-host entries as given ("name:ip"). */
  extraHosts: string[];
  /** -a/--attach: the streams named (lowercase), [] = Docker's default (stdout, stderr; stdin with -i). */
  attach: string[];
  /** --volumes-from entries as given. */
  volumesFrom: string[];
  /** --ip, "" = none. */
  ipv4Address: string;
  /** --mac-address, normalized ("02:42:ac:11:00:02"), "" = none. */
  macAddress: string;
  /** --cgroup-parent, normalized ("a/b"), "" = none. */
  cgroupParent: string;
  /** "" = none. */
  cidfile: string;
  detachKeys: string;
  sigProxy: boolean;
}

/** `readFile` reads a client path (--label-file). */
export function clientRunOptions(p: ParsedCommand, readFile: (path: string) => string): ClientRunOptions {
  const v = p.flags;
  const labels: Record<string, string> = {};
  for (const file of v['label-file'] as string[]) {
    let content: string;
    try {
      content = readFile(file);
    } catch (e) {
      throw invalidFlagValue(flagOf('label-file'), file, `cannot read the file: ${(e as Error).message}`);
    }
    for (const line of content.replace(/^\uFEFF/, '').split(/\r?\n/)) {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) continue;
      const [k, val] = parseLabel(flagOf('label-file'), t);
      labels[k] = val;
    }
  }
  const exposedPorts: string[] = [];
  for (const e of v['expose'] as string[]) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/([a-z]+))?$/.exec(e);
    const first = Number(m?.[1]);
    const last = m?.[2] === undefined ? first : Number(m[2]);
    const proto = m?.[3] ?? 'tcp';
    if (!m || last < first || last - first >= 65535 || checkExposedPort(`${first}/${proto}`) || checkExposedPort(`${last}/${proto}`)) {
      throw invalidFlagValue(flagOf('expose'), e, 'expected PORT[/tcp|udp|sctp] or a range START-END[/proto], ports 1-65535');
    }
    for (let port = first; port <= last; port++) exposedPorts.push(`${port}/${proto}`);
  }
  const networkAliases = [...(v['network-alias'] as string[])];
  for (const a of networkAliases) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a) || a.length > 253) throw invalidFlagValue(flagOf('network-alias'), a, 'expected a DNS name: letters, digits, ".", "-" and "_"');
  }
  const extraHosts = [...(v['add-host'] as string[])];
  for (const e of extraHosts) {
    const h = parseExtraHost(e);
    if ('error' in h) throw invalidFlagValue(flagOf('add-host'), e, h.error);
  }
  const attach = (v['attach'] as string[]).map((s) => s.toLowerCase());
  for (const [i, s] of attach.entries()) {
    if (!['stdin', 'stdout', 'stderr'].includes(s)) throw invalidFlagValue(flagOf('attach'), (v['attach'] as string[])[i]!, 'valid streams are STDIN, STDOUT and STDERR');
  }
  if (attach.length && v['detach'] === true) throw new InvalidArgumentError('conflicting options: -a and -d (a detached run attaches no streams)', { field: 'attach' });
  const volumesFrom = [...(v['volumes-from'] as string[])];
  for (const e of volumesFrom) {
    if (!/^[^:\s]+(:(ro|rw))?$/.test(e)) throw invalidFlagValue(flagOf('volumes-from'), e, 'expected CONTAINER[:ro|:rw]');
  }
  const ipv4Address = (v['ip'] as string | undefined) ?? '';
  if (ipv4Address && !isIPv4(ipv4Address)) throw invalidFlagValue(flagOf('ip'), ipv4Address, 'expected an IPv4 address');
  const macFlag = (v['mac-address'] as string | undefined) ?? '';
  const mac = macFlag ? parseMacAddress(macFlag) : { mac: '' };
  if ('error' in mac) throw invalidFlagValue(flagOf('mac-address'), macFlag, mac.error);
  const cgroupFlag = (v['cgroup-parent'] as string | undefined) ?? '';
  const cgroupParent = cgroupFlag ? parseCgroupParent(cgroupFlag) : { path: '' };
  if ('error' in cgroupParent) throw invalidFlagValue(flagOf('cgroup-parent'), cgroupFlag, cgroupParent.error);
  const storageOpt: Record<string, string> = {};
  for (const e of v['storage-opt'] as string[]) {
    const eq = e.indexOf('=');
    if (eq <= 0) throw invalidFlagValue(flagOf('storage-opt'), e, 'expected KEY=VALUE, as in size=10G');
    storageOpt[e.slice(0, eq)] = e.slice(eq + 1);
  }
  const storageWhy = checkStorageOpts(storageOpt);
  if (storageWhy) throw new InvalidArgumentError(storageWhy.error, { field: 'storage-opt' });
  if (p.changed.has('platform')) {
    const want = (v['platform'] as string).toLowerCase();
    const host = `linux/${GOARCH[arch()] ?? arch()}`;
    if (want !== host && want !== 'linux' && !want.startsWith(`${host}/`)) {
      throw invalidFlagValue(flagOf('platform'), v['platform'] as string, `berth runs containers of the host's platform only (${host}): it has no emulation for other architectures`);
    }
  }
  const cidfile = v['cidfile'] as string;
  const detachKeys = v['detach-keys'] as string;
  if (detachKeys && !/^(ctrl-[a-z@[\\\]^_]|[ -~])(,(ctrl-[a-z@[\\\]^_]|[ -~]))*$/.test(detachKeys)) {
    throw invalidFlagValue(flagOf('detach-keys'), detachKeys, 'expected a comma-separated sequence of single characters and ctrl-<value>, as in ctrl-p,ctrl-q');
  }
  if (v['detach'] === true && p.changed.has('sig-proxy') && v['sig-proxy'] === true) {
    throw new InvalidArgumentError('conflicting options: --sig-proxy and -d (a detached run has no client to proxy signals from)', { field: 'sig-proxy' });
  }
  return { labels, exposedPorts, networkAliases, extraHosts, attach, volumesFrom, ipv4Address, macAddress: mac.mac, cgroupParent: cgroupParent.path, cidfile, detachKeys, sigProxy: v['sig-proxy'] !== false };
}
