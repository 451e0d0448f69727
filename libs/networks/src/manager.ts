// NetworkManager: the networks service's logic, callable without gRPC. Each
// public method maps 1:1 onto an rpc of berth.networks.v1.Networks; the
// service kit's handler only converts wire types and errors.
//
// Ownership: the manager owns network objects (bridge devices, their
// iptables chains, the embedded DNS responders), every container's
// attachments (veth, address, port rules, DNS names) and the state dir. It
// never owns a network namespace: the engine creates and deletes those and
// passes their paths; the manager only opens them while a CNI plugin runs.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { closeStateTree, Mutex } from '@berth/kit';
import { parseMacAddress } from '@berth/container-config';
import {
  AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, ResourceExhaustedError,
} from '@berth/errors';
import { CniRuntime } from './cni/runtime';
import { CniDatapath } from './cni/datapath';
import type { CniConfList } from './cni/types';
import { loadDropIns } from './conflist';
import { deleteBridge, ensureBridge, macFromId, validIfName } from './bridge';
import { cadvisorCollectors, readCounters, type InterfaceCounters, type LabelledCounters } from './counters';
import { datapathOf, type AttachTarget, type Datapath, type DatapathHost, type DatapathName } from './datapath';
import { DnsRegistry } from './dns-registry';
import type { Upstream } from './dns';
import { EndpointTable, publicView } from './endpoints';
import { formatHosts, formatResolvConf, isLoopbackAddress, parseResolvConf } from './files';
import { Firewall } from './firewall';
import { ephemeralRange } from './port-probe';
import { allocateHostPorts } from './port-allocator';
import {
  contains, defaultSubnetCandidates, formatCidr, formatIp, lastAddress, MIN_SUBNET_PREFIX, overlaps, parseCidr, parseIp, pickFreeSubnet, specialRange,
} from './ipv4';
import { validateNetworkOptions } from './validate';
import { parsePortSpec, type PortMapping } from './ports';
import { reconcileAttachments, type ReconcileHost, type ReconcileReport } from './reconcile';
import { hostRoutes } from './routes';
import { Store, type EndpointRecord } from './store';
import { NativeDatapath } from './native/datapath';
import { HostLocalIpam } from './native/ipam';
import type {
  AttachOptions, Attachment, CreateNetworkOptions, Network, NetworkEvent, NetworkMode,
} from './types';

export interface NetworkManagerOptions {
  /** Where networks and attachments are persisted (e.g. /var/lib/berth/networks). */
  stateDir: string;
  /** CNI plugin search path (CNI_PATH), first hit wins. */
  cniPath?: string[];
  /** libcni-compatible result cache dir; results in <dir>/results. */
  cniCacheDir?: string;
  /** Drop-in conflists (*.conflist), each an extra network of driver `cni`. */
  cniConfigDir?: string;
  /** host-local's allocation dir; default <stateDir>/ipam. */
  ipamDataDir?: string;
  /** The default network; bridge `berth0` and the first free candidate /16 unless set. */
  defaultNetwork?: { name?: string; bridge?: string; subnet?: string; gateway?: string };
  /** Prefix of bridges of user-defined networks (`berth-` + id). */
  bridgePrefix?: string;
  /** Prefix of the iptables chains this manager owns (BERTH). */
  chainPrefix?: string;
  /** Host files the container's files derive from. */
  resolvConfPath?: string;
  hostsPath?: string;
  /** Where the embedded DNS relays unknown names; default the host's resolv.conf nameservers. */
  dnsUpstreams?: Upstream[];
  /** UDP port of the embedded DNS (53; only tests change it). */
  dnsPort?: number;
  /** Range ephemeral host ports come from; default net.ipv4.ip_local_port_range. */
  ephemeralPorts?: [number, number];
  /**
   * How berth's bridge networks make interfaces: 'native' (rtnetlink from this
   * process, no spawn; the default) or 'cni' (the bridge + host-local +
   * loopback plugins). Drop-in networks always use their conflist
   * (datapath.ts).
   */
  datapath?: DatapathName;
}

export interface NetworkDetails {
  network: Network;
  /** Attachments of containers on this network. */
  containers: Attachment[];
}

export interface ResolvConfOptions {
  /** Nameservers (docker --dns); on embedded-DNS networks they become the upstreams instead. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

export interface ContainerCounters {
  containerId: string;
  name: string;
  network: string;
  counters: InterfaceCounters;
}

export type { ReconcileReport } from './reconcile';

/** Parses `--network`: bridge|default, none, host, container:<id>, or a network name. */
export function parseNetworkMode(text: string, defaultNetwork = 'bridge'): NetworkMode {
  if (text === '' || text === 'bridge' || text === 'default') return { kind: 'bridge', network: defaultNetwork };
  if (text === 'none') return { kind: 'none' };
  if (text === 'host') return { kind: 'host' };
  if (text.startsWith('container:')) {
    const id = text.slice('container:'.length);
    if (!id) throw new InvalidArgumentError('network: container: needs the id of the container to share with', { field: 'network' });
    return { kind: 'container', containerId: id };
  }
  return { kind: 'bridge', network: text };
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const RESERVED = new Set(['none', 'host', 'default']);

/**
 * The manager composes the parts: the endpoints table (endpoints.ts) and its
 * files (store.ts), a Datapath per kind of attachment (datapath.ts), host
 * ports (port-allocator.ts), the embedded DNS (dns-registry.ts), the firewall
 * (firewall.ts) and reconcile (reconcile.ts). It owns the lock, the records'
 * phases and the events; the parts own the kernel work.
 */
export class NetworkManager extends EventEmitter {
  readonly cni: CniRuntime;
  /** The datapath new attachments to berth's networks (and mode none) use. */
  private readonly datapath: Datapath;
  /** Both datapaths, by name: a record is undone and checked by the one that made it. */
  private readonly datapaths: Record<DatapathName, Datapath>;
  private readonly cniDatapath: CniDatapath;
  private readonly store: Store;
  private readonly firewall: Firewall;
  private readonly networks = new Map<string, Network>();
  private readonly dropIns = new Map<string, CniConfList>();
  private readonly endpoints = new EndpointTable();
  private readonly dns: DnsRegistry;
  private readonly lock = new Mutex();
  private readonly ipamDir: string;
  private readonly defaultName: string;
  private upstreams: Upstream[] = [];
  private started = false;
  /** Problems found at start that did not stop it (unreadable drop-in conflists...), for the service log. */
  readonly warnings: string[] = [];
  /** Attaches running in this process: reconcile must not take them for crash leftovers. */
  private readonly inflight = new Set<EndpointRecord>();

  constructor(readonly opts: NetworkManagerOptions) {
    super();
    this.store = new Store(opts.stateDir);
    this.cni = new CniRuntime({
      cniPath: opts.cniPath ?? ['/usr/lib/cni', '/opt/cni/bin'],
      cacheDir: opts.cniCacheDir ?? '/var/lib/cni',
    });
    const chainPrefix = opts.chainPrefix ?? 'BERTH';
    this.firewall = new Firewall(chainPrefix);
    this.ipamDir = opts.ipamDataDir ?? join(opts.stateDir, 'ipam');
    const host: DatapathHost = {
      network: (name) => this.networks.get(name),
      networks: () => [...this.networks.values()],
      endpoints: () => this.endpoints.all(),
      warn: (message) => { this.warnings.push(message); },
    };
    this.cniDatapath = new CniDatapath(host, { runtime: this.cni, ipamDir: this.ipamDir, chainPrefix });
    const native = new NativeDatapath(host, { ipam: new HostLocalIpam(this.ipamDir), chainPrefix, legacyPorts: this.cniDatapath });
    this.datapaths = { native, cni: this.cniDatapath };
    this.datapath = this.datapaths[opts.datapath ?? 'native'];
    this.dns = new DnsRegistry({ port: opts.dnsPort ?? 53, upstreams: () => this.upstreams, table: this.endpoints });
    this.defaultName = opts.defaultNetwork?.name ?? 'bridge';
  }

  /** The datapath that made (and undoes) a record. */
  private datapathFor(ep: EndpointRecord): Datapath {
    return this.datapaths[datapathOf(ep)];
  }

  /** Typed event subscription: network.created/removed, container.attached/detached. */
  onEvent(fn: (e: NetworkEvent) => void): () => void {
    this.on('event', fn);
    return () => this.off('event', fn);
  }

  private emitEvent(e: NetworkEvent): void {
    this.emit('event', e);
    this.emit(e.type, e);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Loads state, creates the default network if there is none, makes every
   * network's bridge, chains and DNS responder exist again, and, when the
   * engine passes the ids of the containers that still exist, reconciles.
   */
  async start(opts: { existingContainers?: string[] } = {}): Promise<ReconcileReport | undefined> {
    await this.store.init();
    // Records, IPAM claims and CNI results name containers and their
    // addresses: 0600 files in 0700 dirs, tightened here where an older berth
    // or CNI host-local left 0644/0755.
    for (const d of [this.opts.stateDir, this.ipamDir, this.opts.cniCacheDir]) {
      if (d && (d === this.opts.stateDir || !d.startsWith(`${this.opts.stateDir}/`))) await closeStateTree(d);
    }
    this.upstreams = this.opts.dnsUpstreams ?? await this.hostUpstreams();
    // Records written before networks had labels have none.
    for (const [, n] of await this.store.loadNetworks()) this.networks.set(n.name, { ...n, labels: n.labels ?? {} });
    for (const [id, eps] of await this.store.loadEndpoints()) this.endpoints.set(id, eps);
    const { lists, errors } = await loadDropIns(this.opts.cniConfigDir ?? '/etc/berth/cni/net.d');
    this.warnings.push(...errors);
    for (const l of lists) {
      if (this.networks.has(l.name)) this.warnings.push(`conflist network ${l.name} ignored: a berth network has that name`);
      else this.dropIns.set(l.name, l);
    }
    if (![...this.networks.values()].some((n) => n.isDefault)) {
      const d = this.opts.defaultNetwork ?? {};
      await this.createNetworkLocked(this.defaultName, { bridge: d.bridge ?? 'berth0', subnet: d.subnet, gateway: d.gateway }, true);
    }
    for (const n of this.networks.values()) await ensureBridge(n.bridge, `${n.gateway}/${parseCidr(n.subnet).prefix}`, macFromId(n.id), n.mtu || undefined);
    await this.applyFirewall();
    await this.ensureForwarding();
    for (const n of this.networks.values()) if (n.dns) await this.dns.start(n);
    for (const ep of this.endpoints.all()) if (ep.phase === 'attached') this.dns.register(ep);
    this.started = true;
    return opts.existingContainers ? this.reconcile(opts.existingContainers) : undefined;
  }

  /** Stops the DNS responders. Networks and attachments stay (the next start picks them up). */
  async close(): Promise<void> {
    await this.dns.stopAll();
    this.started = false;
  }

  /** Detaches every container and removes every network, the default one too (uninstall, tests). */
  async purge(): Promise<void> {
    for (const id of this.endpoints.containerIds()) await this.detach(id).catch(() => undefined);
    for (const n of [...this.networks.values()]) await this.removeNetworkLocked(n, true);
    await this.firewall.remove();
    await this.releaseIdle();
  }

  private assertStarted(): void {
    if (!this.started) throw new FailedPreconditionError('networks service not started: call start() first');
  }

  private async hostUpstreams(): Promise<Upstream[]> {
    try {
      const rc = parseResolvConf(await readFile(this.opts.resolvConfPath ?? '/etc/resolv.conf', 'utf8'));
      return rc.nameservers.map((host) => ({ host, port: 53 }));
    } catch {
      return [];
    }
  }

  // ----------------------------------------------------------------- networks

  /** CreateNetwork: a user-defined bridge network with its own bridge, subnet and DNS. */
  createNetwork(name: string, opts: CreateNetworkOptions = {}): Promise<Network> {
    this.assertStarted();
    return this.lock.run(() => this.createNetworkLocked(name, opts, false));
  }

  private async createNetworkLocked(name: string, opts: CreateNetworkOptions, isDefault: boolean): Promise<Network> {
    if (!NAME_RE.test(name) || RESERVED.has(name)) {
      throw new InvalidArgumentError(`name: "${name}" must be 1-64 letters, digits, _ . - and not none/host/default`, { field: 'name' });
    }
    if (this.networks.has(name) || this.dropIns.has(name)) throw new AlreadyExistsError(`network ${name} already exists`, { field: 'name' });
    const id = randomBytes(32).toString('hex');
    const bridgePrefix = this.opts.bridgePrefix ?? 'berth-';
    const bridge = opts.bridge ?? `${bridgePrefix}${id.slice(0, Math.max(1, 15 - bridgePrefix.length))}`;
    if (!validIfName(bridge)) throw new InvalidArgumentError(`bridge: "${bridge}" is not a valid interface name (1-15 chars)`, { field: 'bridge' });
    for (const n of this.networks.values()) {
      if (n.bridge === bridge) throw new AlreadyExistsError(`bridge ${bridge} is already used by network ${n.name}`, { field: 'bridge' });
    }
    const routes = (await hostRoutes()).filter((r) => r.iface !== bridge && ![...this.networks.values()].some((n) => n.bridge === r.iface));
    const taken = [...this.networks.values()].map((n) => ({ name: `network ${n.name}`, cidr: parseCidr(n.subnet) }));
    let subnet;
    if (opts.subnet) {
      subnet = parseCidr(opts.subnet, 'subnet');
      if (subnet.prefix > 30) throw new InvalidArgumentError(`subnet: ${opts.subnet} is too small; use /30 or larger`, { field: 'subnet' });
      if (subnet.prefix < MIN_SUBNET_PREFIX) throw new InvalidArgumentError(`subnet: ${opts.subnet} is too large; use /${MIN_SUBNET_PREFIX} or smaller`, { field: 'subnet' });
      const special = specialRange(subnet);
      if (special) throw new InvalidArgumentError(`subnet: ${opts.subnet} cannot be a bridge network's: ${special}; use a private range such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16`, { field: 'subnet' });
      const clash = taken.find((t) => overlaps(t.cidr, subnet!));
      if (clash) throw new FailedPreconditionError(`subnet: ${opts.subnet} overlaps ${clash.name} (${formatCidr(clash.cidr)})`, { field: 'subnet' });
      const route = routes.find((r) => overlaps(r, subnet!));
      if (route) throw new FailedPreconditionError(`subnet: ${opts.subnet} overlaps the host route ${formatCidr(route)} on ${route.iface}`, { field: 'subnet' });
    } else {
      subnet = pickFreeSubnet(defaultSubnetCandidates(), [...routes, ...taken.map((t) => t.cidr)]);
      if (!subnet) throw new ResourceExhaustedError('no free subnet left in the candidate pools; pass subnet explicitly', { field: 'subnet' });
    }
    validateNetworkOptions(opts);
    const gw = opts.gateway ? parseIp(opts.gateway, 'gateway') : subnet.network + 1;
    if (!contains(subnet, gw) || gw === subnet.network || gw === lastAddress(subnet)) {
      throw new InvalidArgumentError(`gateway: ${formatIp(gw)} is not a host address of ${formatCidr(subnet)}`, { field: 'gateway' });
    }
    const net: Network = {
      name, id, driver: 'bridge', bridge, subnet: formatCidr(subnet), gateway: formatIp(gw),
      internal: opts.internal ?? false, isDefault, dns: !isDefault, mtu: opts.mtu ?? 0,
      sysctls: opts.sysctls ?? {}, created: new Date().toISOString(), labels: { ...opts.labels },
    };
    // Record first: a crash after this leaves a record that start() completes;
    // a crash before it leaves at most a bridge the next create reuses.
    await this.store.saveNetwork(net);
    this.networks.set(name, net);
    try {
      await ensureBridge(bridge, `${net.gateway}/${subnet.prefix}`, macFromId(net.id), net.mtu || undefined);
      await this.applyFirewall();
      await this.ensureForwarding();
      if (net.dns) await this.dns.start(net);
    } catch (e) {
      await this.removeNetworkLocked(net, true).catch(() => undefined);
      throw e;
    }
    this.emitEvent({ type: 'network.created', network: { ...net } });
    return { ...net };
  }

  /** ListNetworks: berth's networks, then drop-in CNI networks. */
  listNetworks(): Network[] {
    return [...[...this.networks.values()].map((n) => ({ ...n })), ...[...this.dropIns.values()].map((l) => this.dropInView(l))];
  }

  private dropInView(l: CniConfList): Network {
    const bridge = l.plugins.find((p) => p.type === 'bridge');
    const ipam = bridge?.ipam as { ranges?: { subnet?: string; gateway?: string }[][]; subnet?: string } | undefined;
    const range = ipam?.ranges?.[0]?.[0];
    return {
      name: l.name, id: '', driver: 'cni', bridge: typeof bridge?.bridge === 'string' ? bridge.bridge : '',
      subnet: range?.subnet ?? ipam?.subnet ?? '', gateway: range?.gateway ?? '', internal: false,
      isDefault: false, dns: false, mtu: 0, sysctls: {}, created: '', labels: {},
    };
  }

  /** InspectNetwork: the network and the containers attached to it. */
  inspectNetwork(name: string): NetworkDetails {
    const n = this.networks.get(name);
    const d = this.dropIns.get(name);
    if (!n && !d) throw new NotFoundError(`network ${name} not found`, { field: 'name' });
    return { network: n ? { ...n } : this.dropInView(d!), containers: this.endpoints.attachedTo(name).map(publicView) };
  }

  /** RemoveNetwork: refused while containers are attached, and for the default network. */
  removeNetwork(name: string): Promise<void> {
    this.assertStarted();
    return this.lock.run(async () => {
      const n = this.networks.get(name);
      if (!n) {
        if (this.dropIns.has(name)) throw new FailedPreconditionError(`network ${name} comes from a conflist in the CNI config dir; delete the file instead`, { field: 'name' });
        throw new NotFoundError(`network ${name} not found`, { field: 'name' });
      }
      if (n.isDefault) throw new FailedPreconditionError(`network ${name} is the default network and cannot be removed`, { field: 'name' });
      const users = this.endpoints.attachedTo(name);
      if (users.length) {
        throw new FailedPreconditionError(
          `network ${name} has containers attached: ${users.map((u) => u.name || u.containerId).join(', ')}; detach them first`, { field: 'name' });
      }
      await this.removeNetworkLocked(n, false);
    });
  }

  private async removeNetworkLocked(n: Network, quiet: boolean): Promise<void> {
    await this.dns.stop(n.name);
    this.networks.delete(n.name);
    await this.applyFirewall();
    await deleteBridge(n.bridge);
    await rm(join(this.ipamDir, n.name), { recursive: true, force: true });
    await this.store.removeNetwork(n.name);
    if (!quiet || this.started) this.emitEvent({ type: 'network.removed', network: { ...n } });
  }

  /**
   * Routing between a bridge and the uplink needs net.ipv4.ip_forward=1; the
   * CNI bridge plugin sets it on every ADD with isGateway, the native datapath
   * sets it once here (as Docker does at start). Host-wide and left on.
   */
  private async ensureForwarding(): Promise<void> {
    if (![...this.networks.values()].some((n) => !n.internal)) return;
    const p = '/proc/sys/net/ipv4/ip_forward';
    if ((await readFile(p, 'utf8')).trim() !== '1') await writeFile(p, '1');
  }

  private async applyFirewall(): Promise<void> {
    const nets = [...this.networks.values()].map((n) => ({ bridge: n.bridge, subnet: n.subnet, internal: n.internal, dns: n.dns }));
    await this.firewall.apply(nets);
    for (const dp of Object.values(this.datapaths)) await dp.networksChanged([...this.networks.values()]);
  }

  // -------------------------------------------------------------- attachments

  /**
   * Attach: connects a created (not yet started) container to a network or
   * sets up its none/host/container mode. Returns the interface, address,
   * gateway, MAC and the published ports with ephemeral host ports resolved.
   */
  async attach(containerId: string, netnsPath: string, mode: NetworkMode | string, opts: AttachOptions = {}): Promise<Attachment> {
    this.assertStarted();
    if (!ID_RE.test(containerId)) throw new InvalidArgumentError(`containerId: "${containerId}" must be 1-128 letters, digits, _ . -`, { field: 'containerId' });
    const m = typeof mode === 'string' ? parseNetworkMode(mode, this.defaultName) : mode;
    if (m.kind !== 'host' && m.kind !== 'container' && !existsSync(netnsPath)) {
      throw new NotFoundError(`netnsPath: ${netnsPath} does not exist; create the container's network namespace first`, { field: 'netnsPath' });
    }
    const requested = (opts.ports ?? []).flatMap((p) => (typeof p === 'string' ? parsePortSpec(p) : [{ ...p, hostIp: p.hostIp ?? '' }]));
    const v6 = requested.find((p) => p.hostIp.includes(':'));
    if (v6) throw new InvalidArgumentError(`ports: IPv6 host address ${v6.hostIp} is not supported (IPv4 only)`, { field: 'ports' });
    if (requested.length && m.kind !== 'bridge') {
      throw new InvalidArgumentError(`ports: publishing ports needs a bridge or named network, not mode ${m.kind}`, { field: 'ports' });
    }
    const base: EndpointRecord = {
      containerId, mode: m.kind, network: '', networkId: '', interface: '', ip: '', prefixLength: 0, gateway: '', mac: '',
      hostInterface: '', ports: [], name: opts.name ?? '', hostname: opts.hostname ?? containerId.slice(0, 12),
      aliases: [...(opts.aliases ?? [])], sharedWith: '', netnsPath, phase: 'attaching', dns: [...(opts.dns ?? [])],
      createdAtMs: Date.now(),
    };

    // Reserve under the lock: the record (with its host ports) goes into the
    // table and onto disk before any plugin runs, so a concurrent attach sees
    // the ports taken and a crash leaves a record reconcile can undo.
    const ep = await this.lock.run(async () => {
      const ep = await this.reserve(containerId, m, base, requested, opts);
      // Into the table in the same critical section that checked it.
      this.endpoints.set(containerId, [...this.endpoints.of(containerId), ep]);
      await this.store.saveEndpoints(containerId, this.endpoints.of(containerId));
      return ep;
    });
    return this.finishAttach(ep);
  }

  /** Validates against the table and builds the record (caller holds the lock). */
  private async reserve(containerId: string, m: NetworkMode, base: EndpointRecord, requested: PortMapping[], opts: AttachOptions): Promise<EndpointRecord> {
    const mine = this.endpoints.of(containerId);
    if (mine.some((e) => e.mode !== 'bridge') || (mine.length && m.kind !== 'bridge')) {
      throw new FailedPreconditionError(`container ${containerId} already has network mode ${mine[0]!.mode === 'bridge' ? mine[0]!.network : mine[0]!.mode}; detach it first`, { field: 'network' });
    }
    if (m.kind === 'container') {
      if (!this.endpoints.of(m.containerId).length) throw new NotFoundError(`container ${m.containerId} has no network attachment to share; attach it first`, { field: 'network' });
      return { ...base, sharedWith: m.containerId, phase: 'attached' as const };
    }
    if (m.kind === 'host') return { ...base, phase: 'attached' as const };
    if (m.kind === 'none') return this.datapath.plan(base, { kind: 'none' }, mine);
    const net = this.networks.get(m.network);
    const dropIn = this.dropIns.get(m.network);
    if (!net && !dropIn) throw new NotFoundError(`network ${m.network} not found`, { field: 'network' });
    if (mine.some((e) => e.network === m.network)) {
      throw new AlreadyExistsError(`container ${containerId} is already attached to network ${m.network}`, { field: 'network' });
    }
    if (!net?.dns && (opts.aliases?.length)) {
      throw new InvalidArgumentError(`aliases: network ${m.network} has no name resolution; aliases work on user-defined networks`, { field: 'aliases' });
    }
    const requestedIp = opts.ip ? this.checkRequestedIp(opts.ip, m.network, net) : undefined;
    const requestedMac = opts.mac ? this.checkRequestedMac(opts.mac, m.network, net) : undefined;
    if (opts.links?.length) {
      if (!net?.dns) throw new InvalidArgumentError(`links: network ${m.network} has no name resolution; links work on user-defined networks`, { field: 'links' });
      const bad = opts.links.find((l) => !NAME_RE.test(l.name) || !NAME_RE.test(l.alias));
      if (bad) throw new InvalidArgumentError(`links: "${bad.name}:${bad.alias}" needs a container name and an alias of letters, digits, _ . -`, { field: 'links' });
      base.links = opts.links.map((l) => ({ name: l.name, alias: l.alias }));
    }
    let ifIndex = 0;
    while (mine.some((e) => e.interface === `eth${ifIndex}`)) ifIndex++;
    const ports = await this.reservePorts(containerId, requested);
    const ep: EndpointRecord = {
      ...base, network: m.network, networkId: net?.id ?? '', interface: `eth${ifIndex}`, ports, gateway: net?.gateway ?? '',
      ...(requestedIp ? { requestedIp } : {}),
      ...(requestedMac ? { requestedMac } : {}),
    };
    // Drop-in networks are always CNI's.
    const target: AttachTarget = net ? { kind: 'network', network: net } : { kind: 'drop-in', conflist: dropIn! };
    return (net ? this.datapath : this.cniDatapath).plan(ep, target, mine);
  }

  /**
   * Validates a fixed address (docker --ip) for `network` (caller holds the
   * lock): user-defined berth networks only, as Docker; a host address of the
   * subnet that is not the gateway; not held by another attachment.
   */
  private checkRequestedIp(text: string, network: string, net: Network | undefined): string {
    if (!net || net.isDefault) {
      throw new InvalidArgumentError(`ip: user specified IP address is supported on user defined networks only (network ${network} is not one)`, { field: 'ip' });
    }
    const ip = parseIp(text, 'ip');
    const cidr = parseCidr(net.subnet);
    if (!contains(cidr, ip) || ip === cidr.network || ip === lastAddress(cidr)) {
      throw new InvalidArgumentError(`ip: ${text} is not a host address of network ${network}'s subnet ${net.subnet}; choose one inside it`, { field: 'ip' });
    }
    if (formatIp(ip) === net.gateway) {
      throw new InvalidArgumentError(`ip: ${text} is network ${network}'s gateway; choose another address`, { field: 'ip' });
    }
    const holder = this.endpoints.attachedTo(network).find((e) => e.ip === formatIp(ip) || e.requestedIp === formatIp(ip));
    if (holder) {
      throw new AlreadyExistsError(`ip: address ${text} is already in use on network ${network} by container ${holder.name ? `${holder.name} (${holder.containerId})` : holder.containerId}`, { field: 'ip' });
    }
    return formatIp(ip);
  }

  /**
   * Validates a fixed MAC address (docker --mac-address) for `network`
   * (caller holds the lock): a unicast, non-zero address, on a network of the
   * native datapath (which makes the veth; a drop-in conflist's plugins
   * choose their own), not the address of another attachment there (two
   * equal MACs on one bridge take each other's frames).
   */
  private checkRequestedMac(text: string, network: string, net: Network | undefined): string {
    const parsed = parseMacAddress(text);
    if ('error' in parsed) throw new InvalidArgumentError(`mac_address "${text}": ${parsed.error}`, { field: 'mac_address' });
    if (!net || this.datapath.name !== 'native') {
      throw new InvalidArgumentError(`mac_address: network ${network} is attached through CNI plugins, which choose the interface's address; a fixed MAC works with the native datapath`, { field: 'mac_address' });
    }
    const holder = this.endpoints.attachedTo(network).find((e) => e.mac === parsed.mac || e.requestedMac === parsed.mac);
    if (holder) {
      throw new AlreadyExistsError(`mac_address: ${parsed.mac} is already in use on network ${network} by container ${holder.name ? `${holder.name} (${holder.containerId})` : holder.containerId}`, { field: 'mac_address' });
    }
    return parsed.mac;
  }

  /** Second half of attach: the kernel work, then the record's 'attached' phase. */
  private async finishAttach(ep: EndpointRecord): Promise<Attachment> {
    const containerId = ep.containerId;
    if (ep.phase === 'attached') {
      this.emitEvent({ type: 'container.attached', attachment: publicView(ep) });
      return publicView(ep);
    }

    this.inflight.add(ep);
    try {
      const dp = this.datapathFor(ep);
      try {
        const net = this.networks.get(ep.network);
        // Only the container's first bridge network gets the default route.
        const first = !this.endpoints.of(containerId).some((e) => e !== ep && e.mode === 'bridge');
        await dp.add(ep, { defaultRoute: first && !!net && !net.internal });
      } catch (e) {
        await this.dropRecord(ep);
        if (ep.ports.length) await dp.releaseIdle().catch(() => undefined);
        throw e;
      }
      ep.phase = 'attached';
      await this.lock.run(() => this.store.saveEndpoints(containerId, this.endpoints.of(containerId)));
    } finally {
      this.inflight.delete(ep);
    }
    this.dns.register(ep);
    this.emitEvent({ type: 'container.attached', attachment: publicView(ep) });
    return publicView(ep);
  }

  /** Undoes one attachment: its DNS names, then its kernel state (by the datapath that made it). */
  private async undo(ep: EndpointRecord): Promise<void> {
    this.dns.unregister(ep);
    await this.datapathFor(ep).remove(ep);
  }

  private reservePorts(containerId: string, requested: PortMapping[]): Promise<PortMapping[]> {
    const taken = this.endpoints.all().flatMap((e) => e.ports.map((port) => ({ port, name: e.name, containerId: e.containerId })));
    return allocateHostPorts(containerId, requested, taken, this.opts.ephemeralPorts ?? ephemeralRange());
  }

  private async dropRecord(ep: EndpointRecord): Promise<void> {
    await this.lock.run(async () => {
      const left = this.endpoints.of(ep.containerId).filter((e) => e !== ep);
      this.endpoints.set(ep.containerId, left);
      await this.store.saveEndpoints(ep.containerId, left);
    });
  }

  /**
   * Detach: undoes attach (veth, address, port rules, DNS names) for one
   * network, or all of the container's when `network` is omitted. Detaching a
   * container with no attachments is a no-op (so the engine can always call it).
   */
  async detach(containerId: string, network?: string): Promise<Attachment[]> {
    this.assertStarted();
    const mine = this.endpoints.of(containerId);
    const eps = network === undefined ? [...mine].reverse() : mine.filter((e) => e.network === network);
    if (network !== undefined && eps.length === 0) {
      throw new NotFoundError(`container ${containerId} is not attached to network ${network}`, { field: 'network' });
    }
    const out: Attachment[] = [];
    let first: unknown;
    for (const ep of eps) {
      try {
        await this.undo(ep);
      } catch (e) {
        // Keep the record: the next detach or reconcile retries the DEL.
        first ??= e;
        continue;
      }
      await this.dropRecord(ep);
      out.push(publicView(ep));
      this.emitEvent({ type: 'container.detached', attachment: publicView(ep) });
    }
    for (const dp of new Set(eps.filter((e) => e.ports.length).map((e) => this.datapathFor(e)))) await dp.releaseIdle();
    if (first) throw first;
    return out;
  }

  /** Lets every datapath drop shared state no attachment uses any more. */
  private async releaseIdle(): Promise<void> {
    for (const dp of Object.values(this.datapaths)) await dp.releaseIdle();
  }

  /** CheckAttachment: CNI CHECK of each of the container's attachments. */
  async check(containerId: string): Promise<void> {
    this.assertStarted();
    const eps = this.endpoints.of(containerId);
    if (!eps.length) throw new NotFoundError(`container ${containerId} has no network attachments`, { field: 'containerId' });
    for (const ep of eps) {
      if (ep.phase !== 'attached') throw new FailedPreconditionError(`container ${containerId}'s attach to ${ep.network || ep.mode} did not finish`);
      await this.datapathFor(ep).check(ep);
    }
  }

  /** ListAttachments: a container's attachments, or every container's. */
  attachments(containerId?: string): Attachment[] {
    const eps = containerId === undefined ? this.endpoints.all() : this.endpoints.of(containerId);
    return eps.filter((e) => e.phase === 'attached').map(publicView);
  }

  private ownEndpoints(containerId: string): EndpointRecord[] {
    const eps = this.endpoints.of(containerId).filter((e) => e.phase === 'attached');
    if (!eps.length) throw new NotFoundError(`container ${containerId} has no network attachment; attach it first`, { field: 'containerId' });
    const shared = eps[0]!.sharedWith;
    return shared ? this.ownEndpoints(shared) : eps;
  }

  // -------------------------------------------------------------------- files

  /** HostsFile: /etc/hosts content for the container (its namespace owner's for container: mode). */
  async hostsFile(containerId: string): Promise<string> {
    const eps = this.ownEndpoints(containerId);
    const mode = eps[0]!.mode;
    if (mode === 'host') return readFile(this.opts.hostsPath ?? '/etc/hosts', 'utf8');
    return formatHosts(eps.filter((e) => e.ip).map((e) => ({ ip: e.ip, names: [e.hostname, e.name] })));
  }

  /**
   * ResolvConf: /etc/resolv.conf content. Host mode: the host's file. Default
   * bridge and none: the host's without loopback nameservers (unreachable from
   * another namespace), Docker's public fallback if none remain. User-defined
   * networks: the embedded DNS on the gateway.
   */
  async resolvConf(containerId: string, opts: ResolvConfOptions = {}): Promise<string> {
    const eps = this.ownEndpoints(containerId);
    let host = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
    try { host = parseResolvConf(await readFile(this.opts.resolvConfPath ?? '/etc/resolv.conf', 'utf8')); } catch { /* none */ }
    const search = opts.dnsSearch ?? host.search;
    const options = opts.dnsOptions ?? host.options;
    if (eps[0]!.mode === 'host') {
      return formatResolvConf({ nameservers: opts.dns ?? host.nameservers, search, options }, 'host network: the host\'s resolvers');
    }
    const withDns = eps.map((e) => this.networks.get(e.network)).find((n) => n?.dns);
    if (withDns) {
      return formatResolvConf({ nameservers: [withDns.gateway], search, options },
        `berth embedded DNS of network ${withDns.name}`);
    }
    let ns = opts.dns ?? host.nameservers.filter((n) => !isLoopbackAddress(n));
    if (ns.length === 0) ns = ['8.8.8.8', '8.8.4.4'];
    return formatResolvConf({ nameservers: ns, search, options });
  }

  // ----------------------------------------------------------------- counters

  /** Stats: rx/tx counters of the container's interfaces (every container's when omitted). */
  async stats(containerId?: string): Promise<ContainerCounters[]> {
    const eps = containerId === undefined ? this.endpoints.all() : this.endpoints.of(containerId);
    const out: ContainerCounters[] = [];
    for (const ep of eps) {
      if (ep.phase !== 'attached' || !ep.hostInterface) continue;
      const c = await readCounters(ep.hostInterface, ep.interface);
      if (c) out.push({ containerId: ep.containerId, name: ep.name, network: ep.network, counters: c });
    }
    return out;
  }

  /** Registers the cAdvisor-named network counters with a prom-client registry. */
  registerMetrics(registry: Registry): void {
    const source = async (): Promise<LabelledCounters[]> =>
      (await this.stats()).map((s) => ({ id: s.containerId, name: s.name, counters: s.counters }));
    for (const c of cadvisorCollectors(source)) registry.registerMetric(c as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  // ---------------------------------------------------------------- reconcile

  /**
   * Reconcile: given the containers that exist, undoes everything belonging
   * to any other container, rolls back attaches a crash interrupted, and
   * sweeps what no record explains (cache entries, host-local allocations,
   * veths on berth's bridges).
   */
  async reconcile(existingContainers: string[], asOfMs = Date.now()): Promise<ReconcileReport> {
    this.assertStarted();
    const host: ReconcileHost = {
      table: this.endpoints,
      inflight: this.inflight,
      networks: () => [...this.networks.values()],
      ourNetworks: () => new Set([...this.networks.keys(), ...this.dropIns.keys(), this.cniDatapath.loopbackList.name]),
      ipamDir: this.ipamDir,
      datapaths: Object.values(this.datapaths),
      detach: (id) => this.detach(id),
      undo: (ep) => this.undo(ep),
      dropRecord: (ep) => this.dropRecord(ep),
    };
    return reconcileAttachments(host, existingContainers, asOfMs);
  }
}
