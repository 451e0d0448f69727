// The native datapath of berth's bridge networks: what the CNI bridge +
// host-local + loopback chain does on ADD/DEL, done in-process over
// rtnetlink, so attaching costs no process spawn. Per attach: claim an
// address file (host-local's format), one RTM_NEWLINK creating the veth pair
// with its peer born inside the container's namespace and the host end
// enslaved and up, then in the container's namespace (one socket made there,
// see @berth/sys netlinkSocketIn) the address, link up (eth and lo) and the
// default route. Detach deletes the host end (the kernel removes the pair)
// and frees the address file. Published ports: hostports.ts.
import { closeSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { FailedPreconditionError } from '@berth/errors';
import { formatIp, lastAddress, parseCidr } from '../ipv4';
import type { Network } from '../types';
import { HostLocalIpam } from './ipam';
import { Rtnl } from './rtnetlink';

export interface NativeEndpoint {
  containerId: string;
  netnsPath: string;
  /** Interface name inside the container (eth0). */
  interface: string;
  /** Host end name, chosen (and persisted) before add runs. */
  hostInterface: string;
  ip: string;
  /** A fixed address to claim instead of the next free one (validated by the manager). */
  requestedIp?: string;
}

/** Docker's MAC scheme: 02:42 followed by the IPv4 address, unique per bridge. */
export function macForIp(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

export class NativeBridgeDatapath {
  constructor(readonly ipam: HostLocalIpam) {}

  /** Runs fn with a host-namespace rtnetlink socket of its own (no sharing between operations). */
  private async withHost<T>(fn: (r: Rtnl) => Promise<T>): Promise<T> {
    const r = Rtnl.host();
    try { return await fn(r); } finally { r.close(); }
  }

  /** Sets up ep on net; returns address, prefix, gateway and MAC. Undoes itself on failure. */
  async add(net: Network, ep: NativeEndpoint, opts: { defaultRoute: boolean }): Promise<{ ip: string; prefixLength: number; mac: string }> {
    const ip = await this.ipam.allocate(net.name, net.subnet, net.gateway, ep.containerId, ep.interface, ep.requestedIp);
    const cidr = parseCidr(net.subnet);
    const mac = macForIp(ip);
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
      });
      // Hairpin: a container reaching its own published port through the host
      // comes back out of the port it went in by (the bridge plugin's hairpinMode).
      writeFileSync(`/sys/class/net/${ep.hostInterface}/brport/hairpin_mode`, '1');
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
  async del(network: string, ep: NativeEndpoint): Promise<void> {
    if (ep.hostInterface) await this.withHost((h) => h.deleteLink(ep.hostInterface));
    if (ep.ip) await this.ipam.release(network, ep.ip, ep.containerId);
  }

  /** Brings lo up in a namespace (network mode none). */
  async loopbackUp(netnsPath: string): Promise<void> {
    const inner = Rtnl.inNetns(netnsPath);
    try { await inner.setUp(1, 'lo'); } finally { inner.close(); }
  }

  /** Like CNI CHECK: the host end exists and is still a port of the network's bridge. */
  check(net: Network, ep: NativeEndpoint): void {
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
}
