// docker network connect / disconnect: a container joins or leaves a network
// besides the one it was created on (--network).
//
// The record keeps the connection (ContainerRecord.connections) so every
// start attaches it again (run-plan's connectNetworks step: restart policy,
// docker start, engine restart); a running (or paused) container is attached
// at once through the networks service, gets the next interface (eth1...),
// and its /etc/hosts is rewritten in place with the new address. A created or
// stopped container only gets the record entry, checked against the network
// first (it exists; --ip inside its subnet), as Docker checks it.
//
// Ordering: the Engine runs both on the container's operation chain, so they
// never interleave with start, stop or exit handling of the same container.
// The service call happens before the record changes and is undone when a
// later step fails, so an error leaves neither an interface nor an entry.
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, isNotFound } from '@berth/errors';
import type { ContainerStore } from './container-store';
import type { EnginePorts, NetworkInfo } from './ports';
import { hostnameOf } from './run-plan';
import type { ContainerRecord, EndpointSettings, NetworkConnection } from './types';

export interface ConnectOptions {
  /** Extra DNS names on that network (--alias). */
  aliases?: string[];
  /** Fixed IPv4 address in the network's subnet (--ip); "" or absent = the next free one. */
  ip?: string;
  /** --link "CONTAINER[:ALIAS]": ALIAS (default the container's name) resolves to it for this container only. */
  links?: string[];
}

export interface ConnectDeps {
  store: ContainerStore;
  ports: EnginePorts;
  warn: (msg: string) => void;
}

// Docker's words (runconfig/errors.go), so scripts matching them keep working.
const ERR_SHARED = 'container sharing network namespace with another container or host cannot be connected to any other network';
const ERR_HOST = 'container cannot be disconnected from host network or connected to host network';
const ERR_NONE = 'container cannot be connected to multiple networks with one of the networks in private (none) mode';
const ALIAS_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The networks a record was connected to with network connect, in order (old records: none). */
export function connectionsOf(rec: ContainerRecord): NetworkConnection[] {
  return rec.connections ?? [];
}

const isDefaultMode = (mode: string): boolean => mode === '' || mode === 'bridge' || mode === 'default';

/** True when `net` is the network the container was created on. */
function isPrimary(rec: ContainerRecord, net: { name: string; isDefault: boolean }): boolean {
  const mode = rec.hostConfig.networkMode;
  return isDefaultMode(mode) ? net.isDefault : mode === net.name;
}

/** Refuses the network modes that exclude any other network, and those modes as targets. */
function checkModes(rec: ContainerRecord, network: string): void {
  const mode = rec.hostConfig.networkMode;
  if (mode.startsWith('container:')) throw new InvalidArgumentError(ERR_SHARED, { field: 'network' });
  if (mode === 'host' || network === 'host') throw new InvalidArgumentError(ERR_HOST, { field: 'network' });
  if (mode === 'none' || network === 'none') throw new InvalidArgumentError(ERR_NONE, { field: 'network' });
  if (network.startsWith('container:')) {
    throw new InvalidArgumentError(`network: ${network} is a network mode of docker run (--network), not a network to connect to; give a network name`, { field: 'network' });
  }
}

function ipv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!;
}

/**
 * --ip checked before the container runs (the networks service checks it
 * again, with what is taken, at attach): IPv4, on a user-defined network, a
 * host address of its subnet, not its gateway.
 */
function checkIp(ip: string, net: NetworkInfo): void {
  const addr = ipv4(ip);
  if (addr === undefined) throw new InvalidArgumentError(`ip: "${ip}" is not an IPv4 address (like 10.20.0.5)`, { field: 'ip' });
  if (net.isDefault || net.driver !== 'bridge') {
    throw new InvalidArgumentError(`ip: user specified IP address is supported on user defined networks only (network ${net.name} is not one)`, { field: 'ip' });
  }
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(net.subnet);
  const base = m ? ipv4(m[1]!) : undefined;
  if (!m || base === undefined) return; // no subnet to check against: the service decides
  const prefix = Number(m[2]);
  const size = 2 ** (32 - prefix);
  const first = base - (base % size);
  if (addr <= first || addr >= first + size - 1) {
    throw new InvalidArgumentError(`ip: ${ip} is not a host address of network ${net.name}'s subnet ${net.subnet}; choose one inside it`, { field: 'ip' });
  }
  if (ip === net.gateway) throw new InvalidArgumentError(`ip: ${ip} is network ${net.name}'s gateway; choose another address`, { field: 'ip' });
}

/**
 * --link entries -> "NAME:ALIAS" with NAME the linked container's current
 * name (Docker keeps the name too). User-defined networks only: the default
 * network's legacy links (hosts entries, env vars) are not berth's.
 */
function resolveLinks(store: ContainerStore, links: string[], net: NetworkInfo): string[] {
  if (!links.length) return [];
  if (net.isDefault) {
    throw new InvalidArgumentError(`link: links are supported only for containers in user defined networks (network ${net.name} is the default one)`, { field: 'link' });
  }
  return links.map((l) => {
    const i = l.indexOf(':');
    const ref = i < 0 ? l : l.slice(0, i);
    const target = ref ? store.find(ref) : undefined; // NotFound names the container
    const alias = i < 0 ? target?.name ?? '' : l.slice(i + 1);
    if (!target || !ALIAS_RE.test(alias)) {
      throw new InvalidArgumentError(`link: "${l}" is not CONTAINER[:ALIAS] with an alias of letters, digits, _ . -`, { field: 'link' });
    }
    return `${target.name}:${alias}`;
  });
}

function checkAliases(aliases: string[], net: NetworkInfo): void {
  if (!aliases.length) return;
  if (net.isDefault) {
    throw new InvalidArgumentError(`alias: network-scoped alias is supported only for containers in user defined networks (network ${net.name} is the default one)`, { field: 'alias' });
  }
  const bad = aliases.find((a) => !ALIAS_RE.test(a));
  if (bad !== undefined) throw new InvalidArgumentError(`alias: "${bad}" is not a valid DNS name (letters, digits, _ . -, at most 63)`, { field: 'alias' });
}

async function findNetwork(ports: EnginePorts, name: string): Promise<NetworkInfo> {
  try {
    return await ports.networks.inspectNetwork(name);
  } catch (e) {
    if (isNotFound(e)) throw new NotFoundError(`network ${name} not found`, { field: 'network' });
    throw e;
  }
}

/** Rewrites /etc/hosts and resolv.conf of a live container after its addresses changed. */
async function refreshFiles(d: ConnectDeps, rec: ContainerRecord): Promise<void> {
  await d.ports.networks.writeHostsFiles(rec.id, { hostname: hostnameOf(rec), settings: rec.networkSettings, networkMode: rec.hostConfig.networkMode, extraHosts: rec.hostConfig.extraHosts ?? [] });
}

const live = (rec: ContainerRecord): boolean => rec.state === 'running' || rec.state === 'paused';

/**
 * docker network connect. Returns the endpoint as inspect shows it (address
 * fields empty when the container is not running). The caller serialises it
 * with the container's other operations.
 */
export async function connectNetwork(d: ConnectDeps, id: string, network: string, opts: ConnectOptions = {}): Promise<{ network: string; endpoint: EndpointSettings }> {
  if (!network) throw new InvalidArgumentError('network: give the name of the network to connect to', { field: 'network' });
  const rec = d.store.get(id);
  checkModes(rec, network);
  const aliases = [...new Set(opts.aliases ?? [])];
  const ip = opts.ip ?? '';
  const net = await findNetwork(d.ports, network);
  if (isPrimary(rec, net) && !live(rec) && aliases.length && !ip && !opts.links?.length) {
    // Docker's connect to the network a container was created on, before it runs: its aliases
    // there (compose gives each container its service name so). Attached with them at the next start.
    checkAliases(aliases, net);
    const next = d.store.update(id, (cur) => ({ ...cur, hostConfig: { ...cur.hostConfig, networkAliases: aliases } }));
    const endpoint: EndpointSettings = {
      networkId: net.id, ipAddress: '', ipPrefixLen: 0, gateway: '', macAddress: '', aliases: next.hostConfig.networkAliases ?? [],
    };
    return { network: net.name, endpoint };
  }
  if (isPrimary(rec, net) || connectionsOf(rec).some((c) => c.network === net.name)) {
    throw new AlreadyExistsError(`endpoint with name ${rec.name} already exists in network ${net.name}`, { field: 'network' });
  }
  checkAliases(aliases, net);
  if (ip) checkIp(ip, net);
  const links = resolveLinks(d.store, opts.links ?? [], net);
  const connection: NetworkConnection = { network: net.name, aliases, ip, ...(links.length ? { links } : {}) };

  if (!live(rec)) {
    const endpoint: EndpointSettings = {
      networkId: net.id, ipAddress: '', ipPrefixLen: 0, gateway: '', macAddress: '', aliases, ...(ip ? { ipamIpv4Address: ip } : {}),
      ...(links.length ? { links } : {}),
    };
    d.store.update(id, (cur) => ({
      ...cur,
      connections: [...connectionsOf(cur), connection],
      networkSettings: { ...cur.networkSettings, networks: { ...cur.networkSettings.networks, [net.name]: endpoint } },
    }));
    return { network: net.name, endpoint };
  }

  const r = await d.ports.networks.connect(id, {
    pid: rec.pid, network: net.name, aliases, ip, hostname: hostnameOf(rec), name: rec.name, links,
  });
  try {
    const next = d.store.update(id, (cur) => ({
      ...cur,
      connections: [...connectionsOf(cur), connection],
      networkSettings: { ...cur.networkSettings, networks: { ...cur.networkSettings.networks, [r.network]: r.endpoint } },
    }));
    await refreshFiles(d, next);
  } catch (e) {
    // Nothing half-done: the interface goes and the record loses the entry again.
    await d.ports.networks.disconnect(id, r.network).catch((u) => d.warn(`undo connect of ${id} to ${r.network}: ${(u as Error).message}`));
    d.store.update(id, (cur) => dropConnection(cur, r.network));
    throw e;
  }
  return r;
}

function dropConnection(cur: ContainerRecord, network: string): ContainerRecord {
  const { [network]: _gone, ...networks } = cur.networkSettings.networks;
  return { ...cur, connections: connectionsOf(cur).filter((c) => c.network !== network), networkSettings: { ...cur.networkSettings, networks } };
}

/**
 * docker network disconnect. A running container loses the interface, its
 * address and names there at once; the connection leaves the record either
 * way. force: also when the network no longer exists.
 */
export async function disconnectNetwork(d: ConnectDeps, id: string, network: string, opts: { force?: boolean } = {}): Promise<void> {
  if (!network) throw new InvalidArgumentError('network: give the name of the network to disconnect from', { field: 'network' });
  const rec = d.store.get(id);
  const mode = rec.hostConfig.networkMode;
  if (mode === 'host' || network === 'host') throw new InvalidArgumentError(ERR_HOST, { field: 'network' });
  const conn = connectionsOf(rec).find((c) => c.network === network);
  if (!conn) {
    if (mode === network || (isDefaultMode(mode) && network === 'bridge')) {
      throw new FailedPreconditionError(
        `network ${network} is the network container ${rec.name} was created on (--network); berth disconnects only networks added with network connect: recreate the container to change it`,
        { field: 'network' },
      );
    }
    throw new NotFoundError(`container ${rec.name} is not connected to network ${network}`, { field: 'network' });
  }
  // Without force the network must still exist (Docker: "network X not found"; -f drops the entry anyway).
  if (!opts.force) await findNetwork(d.ports, network);
  if (live(rec)) await d.ports.networks.disconnect(id, network);
  const next = d.store.update(id, (cur) => dropConnection(cur, network));
  if (live(next)) await refreshFiles(d, next);
}
