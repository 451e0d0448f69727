// The native datapath (datapath.ts) of berth's bridge networks: what the CNI
// bridge + host-local + loopback chain does on ADD/DEL, done in-process over
// rtnetlink, so attaching costs no process spawn. Per attach: claim an
// address file (host-local's format), one RTM_NEWLINK creating the veth pair
// with its peer born inside the container's namespace and the host end
// enslaved and up, then in the container's namespace (one socket made there,
// see @berth/sys netlinkSocketIn) the address, link up (eth and lo) and the
// default route; published ports as rules (hostports.ts), then the conntrack
// entries of its UDP ports flushed (conntrack.ts). Detach deletes the host
// end (the kernel removes the pair), the rules, and frees the address file.
// Network mode none: lo up, nothing to undo. Drop-in networks are CNI's.
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError } from '@berth/errors';
import type { AttachTarget, Datapath, DatapathHost } from '../datapath';
import { formatIp, lastAddress, parseCidr } from '../ipv4';
import type { ReconcileReport } from '../reconcile';
import type { EndpointRecord } from '../store';
import type { Network } from '../types';
import { flushUdpConntrack } from './conntrack';
import { HostPortRules } from './hostports';
import { HostLocalIpam } from './ipam';
import { Rtnl } from './rtnetlink';

/** Docker's MAC scheme: 02:42 followed by the IPv4 address, unique per bridge. */
export function macForIp(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

export interface NativeDatapathOptions {
  /** host-local-format address claims (the manager's IPAM dir). */
  ipam: HostLocalIpam;
  /** Prefix of the host-port chains (the manager's chain prefix). */
  chainPrefix: string;
  /**
   * Records made before host ports were native carry a portmap conflist:
   * their CHECK and DEL go through this (the CNI datapath).
   */
  legacyPorts: Datapath;
}

export class NativeDatapath implements Datapath {
  readonly name = 'native' as const;
  private readonly ipam: HostLocalIpam;
  private readonly hostPorts: HostPortRules;

  constructor(private readonly host: DatapathHost, private readonly opts: NativeDatapathOptions) {
    this.ipam = opts.ipam;
    this.hostPorts = new HostPortRules(opts.chainPrefix);
  }

  plan(ep: EndpointRecord, target: AttachTarget): EndpointRecord {
    if (target.kind === 'none') return { ...ep, interface: 'lo', datapath: 'native' };
    if (target.kind === 'drop-in') throw new InvalidArgumentError(`network: ${target.conflist.name} is a CNI conflist network; the native datapath makes berth's bridge networks only`, { field: 'network' });
    // The host end's name is persisted before the veth exists: a crash after
    // RTM_NEWLINK leaves a record naming what remove() must delete.
    return { ...ep, datapath: 'native', hostInterface: `veth${randomBytes(4).toString('hex')}` };
  }

  async add(ep: EndpointRecord, opts: { defaultRoute: boolean }): Promise<void> {
    if (ep.mode === 'none') {
      await this.loopbackUp(ep.netnsPath);
      return;
    }
    const net = this.host.network(ep.network);
    if (!net) throw new FailedPreconditionError(`network ${ep.network} is gone; attach to another network`, { field: 'network' });
    Object.assign(ep, await this.addVeth(net, ep, opts), { gateway: net.gateway });
    try {
      await this.hostPorts.add(ep.containerId, ep.ip, ep.ports);
    } catch (e) {
      await this.delVeth(net.name, ep);
      throw e;
    }
    await this.flushUdp(ep);
  }

  async remove(ep: EndpointRecord): Promise<void> {
    if (ep.conflist) await this.opts.legacyPorts.remove(ep);
    if (ep.mode !== 'bridge') return;
    if (ep.ports.length) await this.hostPorts.del(ep.containerId, ep.ip, ep.ports);
    await this.delVeth(ep.network, ep);
    await this.flushUdp(ep);
  }

  /** Like CNI CHECK: the host end exists and is still a port of the network's bridge. */
  async check(ep: EndpointRecord): Promise<void> {
    const net = this.host.network(ep.network);
    if (ep.mode === 'bridge' && net) {
      let master: string;
      try {
        master = basename(readlinkSync(`/sys/class/net/${ep.hostInterface}/master`));
      } catch {
        throw new FailedPreconditionError(`container ${ep.containerId}: veth ${ep.hostInterface} is gone or not on a bridge`);
      }
      if (master !== net.bridge) {
        throw new FailedPreconditionError(`container ${ep.containerId}: veth ${ep.hostInterface} is on ${master}, not ${net.bridge}`);
      }
    }
    if (ep.conflist) await this.opts.legacyPorts.check(ep);
  }

  /** The host-port chains exist while any bridge network does. */
  async networksChanged(networks: Network[]): Promise<void> {
    if (networks.length) await this.hostPorts.ensureChains();
    else await this.hostPorts.removeChains();
  }

  /** Nothing shared between attachments outlives them here. */
  async releaseIdle(): Promise<void> {}

  /** Port rules of containers with no record (a crash after the record went and before the rules did). */
  async sweep(report: ReconcileReport): Promise<void> {
    try {
      await this.hostPorts.sweep((id) => this.host.endpoints().some((e) => e.containerId === id));
    } catch (e) {
      report.errors.push(`port rules: ${(e as Error).message}`);
    }
  }

  /** Runs fn with a host-namespace rtnetlink socket of its own (no sharing between operations). */
  private async withHost<T>(fn: (r: Rtnl) => Promise<T>): Promise<T> {
    const r = Rtnl.host();
    try { return await fn(r); } finally { r.close(); }
  }

  /** Sets up the veth and address of ep on net; returns address, prefix and MAC. Undoes itself on failure. */
  private async addVeth(net: Network, ep: EndpointRecord, opts: { defaultRoute: boolean }): Promise<{ ip: string; prefixLength: number; mac: string }> {
    const ip = await this.ipam.allocate(net.name, net.subnet, net.gateway, ep.containerId, ep.interface, ep.requestedIp);
    const cidr = parseCidr(net.subnet);
    const mac = ep.requestedMac ?? macForIp(ip);
    try {
      await this.withHost(async (host) => {
        const master = await host.linkIndex(net.bridge);
        if (master === undefined) throw new FailedPreconditionError(`bridge ${net.bridge} of network ${net.name} is missing; restart the networks service to recreate it`);
        const nsFd = openSync(ep.netnsPath, 'r');
        try {
          await host.createVethPair({ hostName: ep.hostInterface, peerName: ep.interface, peerMac: mac, netnsFd: nsFd, masterIndex: master, mtu: net.mtu || undefined });
        } finally {
          closeSync(nsFd);
        }
        // Hairpin: a container reaching its own published port through the host
        // comes back out of the port it went in by (the bridge plugin's hairpinMode).
        const port = await host.linkIndex(ep.hostInterface);
        if (port === undefined) throw new FailedPreconditionError(`${ep.hostInterface} vanished right after it was created`);
        await host.setHairpin(port, ep.hostInterface);
      });
      const inner = Rtnl.inNetns(ep.netnsPath);
      try {
        const idx = await inner.linkIndex(ep.interface);
        if (idx === undefined) throw new FailedPreconditionError(`${ep.interface} did not appear in ${ep.netnsPath}`);
        await inner.addAddress(idx, ip, cidr.prefix, formatIp(lastAddress(cidr)), ep.interface);
        await inner.setUp(idx, ep.interface);
        await inner.setUp(1, 'lo'); // loopback is ifindex 1 in every namespace
        if (opts.defaultRoute) await inner.addDefaultRoute(idx, net.gateway, ep.interface);
      } finally {
        inner.close();
      }
    } catch (e) {
      await this.withHost((h) => h.deleteLink(ep.hostInterface)).catch(() => undefined); // may never have been made
      await this.ipam.release(net.name, ip, ep.containerId);
      throw e;
    }
    return { ip, prefixLength: cidr.prefix, mac };
  }

  /** Removes the veth pair and frees the address; safe to repeat. */
  private async delVeth(network: string, ep: EndpointRecord): Promise<void> {
    if (ep.hostInterface) await this.withHost((h) => h.deleteLink(ep.hostInterface));
    if (ep.ip) await this.ipam.release(network, ep.ip, ep.containerId);
  }

  /** Brings lo up in a namespace (network mode none). */
  private async loopbackUp(netnsPath: string): Promise<void> {
    const inner = Rtnl.inNetns(netnsPath);
    try { await inner.setUp(1, 'lo'); } finally { inner.close(); }
  }

  /** Drops conntrack entries of the attachment's UDP host ports (see conntrack.ts). */
  private async flushUdp(ep: EndpointRecord): Promise<void> {
    const udp = ep.ports.filter((p) => p.protocol === 'udp').map((p) => p.hostPort);
    if (!udp.length) return;
    try {
      await flushUdpConntrack(udp);
    } catch (e) {
      // Stale entries only delay delivery until they expire (30 s idle).
      this.host.warn(`flushing conntrack for UDP ports ${udp.join(', ')} of ${ep.containerId}: ${(e as Error).message}`);
    }
  }
}
