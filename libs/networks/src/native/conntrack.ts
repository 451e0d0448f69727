// Flushing conntrack entries of published UDP ports (ctnetlink, linux/
// netfilter/nfnetlink_conntrack.h). NAT is decided on a flow's first packet:
// a UDP client that sent to hostPort before the port was published (or while
// it pointed at another container) keeps its un-NATed (or old) entry as long
// as it keeps sending, so its traffic never reaches the new container. The
// CNI portmap plugin deletes such entries on ADD; berth does on publish and
// on unpublish. TCP needs nothing: a new connection is a new flow.
import { netlinkClose, netlinkRecvAsync, netlinkSendAsync, netlinkSocket } from '@berth/sys';

const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const AF_INET = 2;
const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_PROTO_NUM = 1;
const CTA_PROTO_DST_PORT = 3;
const IPPROTO_UDP = 17;

function message(type: number, flags: number, seq: number, attrs: Buffer = Buffer.alloc(0)): Buffer {
  const hdr = Buffer.alloc(20);
  hdr.writeUInt32LE(20 + attrs.length, 0);
  hdr.writeUInt16LE((NFNL_SUBSYS_CTNETLINK << 8) | type, 4);
  hdr.writeUInt16LE(flags, 6);
  hdr.writeUInt32LE(seq, 8);
  hdr.writeUInt8(AF_INET, 16); // nfgenmsg: family, version 0, res_id 0
  return Buffer.concat([hdr, attrs]);
}

/** Attributes in buf[off, end) as [type without flags, payload, whole attr]. */
function* attrs(buf: Buffer, off: number, end: number): Generator<[number, Buffer, Buffer]> {
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) return;
    yield [buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len), buf.subarray(off, off + len)];
    off += (len + 3) & ~3;
  }
}

/** The original-direction tuple attribute of a conntrack entry when it is UDP to one of `ports`. */
function matchingTuple(entry: Buffer, ports: Set<number>): Buffer | undefined {
  for (const [type, payload, whole] of attrs(entry, 0, entry.length)) {
    if (type !== CTA_TUPLE_ORIG) continue;
    for (const [t2, p2] of attrs(payload, 0, payload.length)) {
      if (t2 !== CTA_TUPLE_PROTO) continue;
      let proto = -1;
      let dport = -1;
      for (const [t3, p3] of attrs(p2, 0, p2.length)) {
        if (t3 === CTA_PROTO_NUM) proto = p3.readUInt8(0);
        if (t3 === CTA_PROTO_DST_PORT) dport = p3.readUInt16BE(0);
      }
      return proto === IPPROTO_UDP && ports.has(dport) ? whole : undefined;
    }
  }
  return undefined;
}

/** Deletes IPv4 conntrack entries of UDP flows whose original destination port is in `ports`. Returns how many. */
export async function flushUdpConntrack(ports: number[]): Promise<number> {
  if (!ports.length) return 0;
  const want = new Set(ports);
  const fd = netlinkSocket(NETLINK_NETFILTER);
  try {
    let seq = 1;
    await netlinkSendAsync(fd, message(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq));
    const doomed: Buffer[] = [];
    dump: for (;;) {
      const buf = await netlinkRecvAsync(fd, 1 << 17);
      let off = 0;
      while (off + 16 <= buf.length) {
        const len = buf.readUInt32LE(off);
        const type = buf.readUInt16LE(off + 4);
        if (len < 16) break dump;
        if (type === NLMSG_DONE || type === NLMSG_ERROR) break dump;
        // payload: nfgenmsg (4 bytes), then attributes
        const tuple = matchingTuple(buf.subarray(off + 20, off + len), want);
        if (tuple) doomed.push(Buffer.from(tuple));
        off += (len + 3) & ~3;
      }
      if (buf.length === 0) break;
    }
    let deleted = 0;
    for (const tuple of doomed) {
      seq++;
      await netlinkSendAsync(fd, message(IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, tuple));
      const ack = await netlinkRecvAsync(fd);
      // ENOENT: the entry expired meanwhile, which is what we wanted anyway.
      if (ack.length >= 20 && ack.readUInt16LE(4) === NLMSG_ERROR && ack.readInt32LE(16) === 0) deleted++;
    }
    return deleted;
  } finally {
    netlinkClose(fd);
  }
}
