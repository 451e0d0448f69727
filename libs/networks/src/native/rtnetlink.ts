// The handful of rtnetlink requests the native datapath sends (rtnetlink(7),
// linux/rtnetlink.h, linux/if_link.h, linux/veth.h): create a veth pair with
// one end moved into a container's namespace and the other enslaved to a
// bridge (hairpin on), set links up, add an address and a default route, delete a link.
// Each request asks for an ACK, so errors come back as errno.
import {
  netlinkClose, netlinkRecvAsync, netlinkSendAsync, netlinkSocket, netlinkSocketIn,
} from '@berth/sys';
import { fromErrno } from '@berth/errors';
import { errnoName } from '@berth/sys';

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_SETLINK = 19;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLA_F_NESTED = 0x8000;
const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_BRIDGE = 7;
const IFF_UP = 0x1;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_PROTINFO = 12;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFLA_BRPORT_MODE = 4; // hairpin
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}
const str = (type: number, s: string) => attr(type, Buffer.from(`${s}\0`));
const u8 = (type: number, v: number) => attr(type, Buffer.from([v]));
const u32 = (type: number, v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return attr(type, b); };
const nest = (type: number, ...parts: Buffer[]) => attr(type | NLA_F_NESTED, Buffer.concat(parts));
const ipv4 = (type: number, ip: string) => attr(type, Buffer.from(ip.split('.').map(Number)));
const mac = (type: number, m: string) => attr(type, Buffer.from(m.split(':').map((x) => parseInt(x, 16))));

function ifinfomsg(index = 0, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(AF_UNSPEC, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

/**
 * One rtnetlink socket. Requests run on libuv worker threads (the kernel does
 * the work inside send) and one at a time per socket: callers do not share a
 * socket between concurrent operations (the datapath opens one per operation).
 */
export class Rtnl {
  private seq = 1;

  private constructor(private fd: number) {}

  /** A socket in the caller's (the service's) namespace. */
  static host(): Rtnl { return new Rtnl(netlinkSocket()); }
  /** A socket inside the namespace at nsPath. */
  static inNetns(nsPath: string): Rtnl { return new Rtnl(netlinkSocketIn(nsPath)); }

  close(): void {
    if (this.fd >= 0) netlinkClose(this.fd);
    this.fd = -1;
  }

  /** Sends one request with NLM_F_ACK and returns the reply payloads before the ACK. */
  private async request(type: number, flags: number, body: Buffer, what: string): Promise<Buffer[]> {
    const seq = this.seq++;
    const hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(16 + body.length, 0);
    hdr.writeUInt16LE(type, 4);
    hdr.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK | flags, 6);
    hdr.writeUInt32LE(seq, 8);
    await netlinkSendAsync(this.fd, Buffer.concat([hdr, body]));
    const replies: Buffer[] = [];
    for (;;) {
      const buf = await netlinkRecvAsync(this.fd);
      let off = 0;
      while (off + 16 <= buf.length) {
        const len = buf.readUInt32LE(off);
        const mtype = buf.readUInt16LE(off + 4);
        const mseq = buf.readUInt32LE(off + 8);
        if (len < 16) break;
        if (mseq === seq) {
          if (mtype === NLMSG_ERROR) {
            const err = -buf.readInt32LE(off + 16);
            if (err !== 0) throw fromErrno(errnoName(err), what);
            return replies;
          }
          replies.push(buf.subarray(off + 16, off + len));
        }
        off += (len + 3) & ~3;
      }
    }
  }

  /** ifindex of a link by name, or undefined when there is none (ENODEV). */
  async linkIndex(name: string): Promise<number | undefined> {
    try {
      const r = await this.request(RTM_GETLINK, 0, Buffer.concat([ifinfomsg(), str(IFLA_IFNAME, name)]), `look up link ${name}`);
      return r[0]?.readInt32LE(4);
    } catch (e) {
      if ((e as { errno?: string }).errno === 'ENODEV') return undefined;
      throw e;
    }
  }

  /**
   * Creates veth `hostName` (up, enslaved to bridge `masterIndex`) with its
   * peer `peerName` (MAC `peerMac`) created directly inside the namespace
   * open as `netnsFd`: the peer never exists in the host namespace, so no
   * name clash and no move step.
   */
  async createVethPair(o: { hostName: string; peerName: string; peerMac: string; netnsFd: number; masterIndex: number; mtu?: number }): Promise<void> {
    const peer = Buffer.concat([
      ifinfomsg(), str(IFLA_IFNAME, o.peerName), mac(IFLA_ADDRESS, o.peerMac), u32(IFLA_NET_NS_FD, o.netnsFd),
      ...(o.mtu ? [u32(IFLA_MTU, o.mtu)] : []),
    ]);
    const body = Buffer.concat([
      ifinfomsg(0, IFF_UP, IFF_UP),
      str(IFLA_IFNAME, o.hostName),
      u32(IFLA_MASTER, o.masterIndex),
      ...(o.mtu ? [u32(IFLA_MTU, o.mtu)] : []),
      nest(IFLA_LINKINFO, str(IFLA_INFO_KIND, 'veth'), nest(IFLA_INFO_DATA, nest(VETH_INFO_PEER, peer))),
    ]);
    await this.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, `create veth ${o.hostName} (peer ${o.peerName})`);
  }

  /**
   * Hairpin mode on bridge port `index` (`bridge link set dev X hairpin on`):
   * frames may leave by the port they came in by. Not through
   * /sys/class/net/<port>/brport/hairpin_mode: that store only try-locks RTNL
   * and restarts the write while anything else holds it (namespace teardown
   * does, for long), on the calling thread: the event loop (a berthd profile
   * at load 7 had 10 ms of it per bridge attach). This request waits for RTNL
   * on a libuv worker thread.
   */
  async setHairpin(index: number, what: string): Promise<void> {
    const m = ifinfomsg(index);
    m.writeUInt8(AF_BRIDGE, 0);
    await this.request(RTM_SETLINK, 0, Buffer.concat([m, nest(IFLA_PROTINFO, u8(IFLA_BRPORT_MODE, 1))]), `set hairpin mode on ${what}`);
  }

  async setUp(index: number, what: string): Promise<void> {
    await this.request(RTM_NEWLINK, 0, ifinfomsg(index, IFF_UP, IFF_UP), `set ${what} up`);
  }

  async addAddress(index: number, ip: string, prefix: number, broadcast: string, what: string): Promise<void> {
    const m = Buffer.alloc(8);
    m.writeUInt8(AF_INET, 0);
    m.writeUInt8(prefix, 1);
    m.writeUInt8(RT_SCOPE_UNIVERSE, 3);
    m.writeUInt32LE(index, 4);
    await this.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
      Buffer.concat([m, ipv4(IFA_LOCAL, ip), ipv4(IFA_ADDRESS, ip), ipv4(IFA_BROADCAST, broadcast)]), `add ${ip}/${prefix} to ${what}`);
  }

  async addDefaultRoute(index: number, gateway: string, what: string): Promise<void> {
    const m = Buffer.alloc(12);
    m.writeUInt8(AF_INET, 0);
    m.writeUInt8(0, 1); // dst_len 0: default
    m.writeUInt8(RT_TABLE_MAIN, 4);
    m.writeUInt8(RTPROT_BOOT, 5);
    m.writeUInt8(RT_SCOPE_UNIVERSE, 6);
    m.writeUInt8(RTN_UNICAST, 7);
    await this.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
      Buffer.concat([m, ipv4(RTA_GATEWAY, gateway), u32(RTA_OIF, index)]), `add default route via ${gateway} on ${what}`);
  }

  /** Deletes a link by name; false when it does not exist. */
  async deleteLink(name: string): Promise<boolean> {
    try {
      await this.request(RTM_DELLINK, 0, Buffer.concat([ifinfomsg(), str(IFLA_IFNAME, name)]), `delete link ${name}`);
      return true;
    } catch (e) {
      if ((e as { errno?: string }).errno === 'ENODEV') return false;
      throw e;
    }
  }
}
