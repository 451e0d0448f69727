// The CNI datapath (datapath.ts): each attachment runs a conflist's plugin
// chain through the CNI runtime (runtime.ts) with libcni's result cache.
// berth's bridge networks get a generated conflist (conflist.ts: bridge +
// host-local, portmap only with published ports, tuning only with sysctls,
// then loopback); mode none runs the loopback plugin; drop-in networks run
// their own conflist, whatever datapath the manager is configured with. The
// exact conflist ADD ran with is kept in the record, so DEL runs the same
// chain even when the network or the drop-in changed since.
import { existsSync } from 'node:fs';
import { closeStateTree, Mutex } from '@berth/kit';
import { InvalidArgumentError } from '@berth/errors';
import { bridgeConflist, CNI_VERSION } from '../conflist';
import type { AttachTarget, Datapath, DatapathHost } from '../datapath';
import { datapathOf } from '../datapath';
import { parseCidr } from '../ipv4';
import { removeIdlePortmapChains } from '../portmap-chains';
import type { ReconcileReport } from '../reconcile';
import type { EndpointRecord } from '../store';
import { CniRuntime } from './runtime';
import type { CniConfList, CniResult, CniRuntimeConf } from './types';

export interface CniDatapathOptions {
  runtime: CniRuntime;
  /** host-local's dataDir in generated conflists (the manager's IPAM dir). */
  ipamDir: string;
  /** The manager's chain prefix; names the loopback conflist (`<prefix>-loopback`, lower case). */
  chainPrefix: string;
}

/**
 * portmap makes its shared chains (CNI-HOSTPORT-DNAT...) on first use with
 * `iptables -N`, which on nf_tables fails "CHAIN_USER_ADD failed (File
 * exists)" when two ADDs race to make them: the ADDs and DELs that publish
 * ports, and the removal of the idle chains, hold one lock in this process,
 * and an ADD that loses that race to another process is tried once more
 * (the runtime has undone its first attempt).
 */
const CHAIN_RACE = /CHAIN_USER_ADD failed \(File exists\)/;

export class CniDatapath implements Datapath {
  readonly name = 'cni' as const;
  private readonly portmapLock = new Mutex();
  readonly runtime: CniRuntime;
  /** The conflist of network mode none; its name is one of this manager's networks to the cache sweep. */
  readonly loopbackList: CniConfList;

  constructor(private readonly host: DatapathHost, private readonly opts: CniDatapathOptions) {
    this.runtime = opts.runtime;
    this.loopbackList = { cniVersion: CNI_VERSION, name: `${opts.chainPrefix.toLowerCase()}-loopback`, plugins: [{ type: 'loopback' }] };
  }

  plan(ep: EndpointRecord, target: AttachTarget, siblings: EndpointRecord[]): EndpointRecord {
    if (target.kind === 'none') return { ...ep, interface: 'lo', conflist: this.loopbackList, datapath: 'cni' };
    let conflist: CniConfList;
    if (target.kind === 'network') {
      conflist = bridgeConflist(target.network, this.opts.ipamDir, ep.ports.length > 0);
      // host-local takes a fixed address through the ips capability (runtimeConfig.ips).
      if (ep.requestedIp) conflist.plugins[0]!.capabilities = { ips: true };
      // A second network must not add a second default route (EEXIST).
      if (siblings.length) ((conflist.plugins[0]!.ipam as { routes: unknown[] }).routes = []);
      conflist.plugins.push({ type: 'loopback' });
    } else {
      conflist = target.conflist;
      if (ep.ports.length && !conflist.plugins.some((p) => p.capabilities?.portMappings)) {
        throw new InvalidArgumentError(`ports: network ${conflist.name}'s conflist has no plugin with the portMappings capability`, { field: 'ports' });
      }
    }
    return { ...ep, conflist, datapath: 'cni' };
  }

  /** Routes are fixed in the conflist at plan(): `defaultRoute` is not used. */
  async add(ep: EndpointRecord): Promise<void> {
    const add = () => this.runtime.add(ep.conflist!, this.runtimeConf(ep));
    const result = ep.ports.length
      ? await this.portmapLock.run(() => add().catch((e: unknown) => (CHAIN_RACE.test((e as Error).message) ? add() : Promise.reject(e))))
      : await add();
    this.fillFromResult(ep, result);
    // host-local claims addresses in 0644 files (0755 dirs): closed at once.
    if (ep.networkId) await closeStateTree(this.opts.ipamDir);
  }

  async remove(ep: EndpointRecord): Promise<void> {
    if (!ep.conflist) return;
    const del = () => this.runtime.del(ep.conflist!, this.runtimeConf(ep, true));
    await (ep.ports.length ? this.portmapLock.run(del) : del());
  }

  async check(ep: EndpointRecord): Promise<void> {
    if (ep.conflist) await this.runtime.check(ep.conflist.name, this.runtimeConf(ep));
  }

  /** The bridge plugin makes what it needs per ADD. */
  async networksChanged(): Promise<void> {}

  /** Drops portmap's shared chains once no CNI attachment publishes ports (see portmap-chains.ts). */
  async releaseIdle(): Promise<void> {
    await this.portmapLock.run(async () => {
      if (this.host.endpoints().some((e) => e.ports.length && datapathOf(e) === 'cni')) return;
      await removeIdlePortmapChains();
    });
  }

  /** Cached results of our networks with no record: DEL from the cached config, as libcni would. */
  async sweep(report: ReconcileReport, ourNetworks: ReadonlySet<string>): Promise<void> {
    for (const c of await this.runtime.cache.all()) {
      if (!ourNetworks.has(c.networkName)) continue; // another runtime's entry
      if (this.host.endpoints().some((e) => e.containerId === c.containerId && e.interface === c.ifName && (e.network === c.networkName || e.conflist?.name === c.networkName))) continue;
      try {
        const list = JSON.parse(Buffer.from(c.config, 'base64').toString('utf8')) as CniConfList;
        await this.runtime.del(list, { containerId: c.containerId, netns: '', ifName: c.ifName });
        report.cacheSwept.push(`${c.networkName}-${c.containerId}-${c.ifName}`);
      } catch (e) {
        report.errors.push(`cache ${c.networkName}/${c.containerId}: ${(e as Error).message}`);
      }
    }
  }

  private runtimeConf(ep: EndpointRecord, forDel = false): CniRuntimeConf {
    const net = this.host.network(ep.network);
    return {
      containerId: ep.containerId,
      // After a container is gone its namespace may be too; plugins then skip
      // the in-namespace part of DEL and still release the rest (SPEC).
      netns: forDel && !existsSync(ep.netnsPath) ? '' : ep.netnsPath,
      ifName: ep.interface,
      capabilityArgs: ep.ports.length || ep.requestedIp ? {
        ...(ep.ports.length ? {
          portMappings: ep.ports.map((p) => ({
            hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIp ? { hostIP: p.hostIp } : {}),
          })),
        } : {}),
        ...(ep.requestedIp && net ? { ips: [`${ep.requestedIp}/${parseCidr(net.subnet).prefix}`] } : {}),
      } : undefined,
    };
  }

  private fillFromResult(ep: EndpointRecord, r: CniResult): void {
    const ctr = r.interfaces?.findIndex((i) => i.sandbox && i.name === ep.interface) ?? -1;
    const ipc = r.ips?.find((i) => i.interface === undefined || i.interface === ctr) ?? r.ips?.[0];
    if (ipc) {
      const [ip, prefix] = ipc.address.split('/');
      ep.ip = ip ?? '';
      ep.prefixLength = Number(prefix ?? 0);
      ep.gateway = ipc.gateway ?? ep.gateway;
    }
    if (ctr >= 0) ep.mac = r.interfaces![ctr]!.mac ?? '';
    // The bridge plugin lists bridge, host veth, container iface; a drop-in may
    // differ, so take the last host-side interface that is not a known bridge.
    const bridges = new Set(this.host.networks().map((n) => n.bridge));
    const host = (r.interfaces ?? []).filter((i) => !i.sandbox && !bridges.has(i.name) && i.name !== 'lo');
    ep.hostInterface = host[host.length - 1]?.name ?? '';
  }
}
