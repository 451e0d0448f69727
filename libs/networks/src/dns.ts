// The embedded DNS responder of one user-defined network. It listens on the
// network's gateway address (UDP 53, in the host's namespace), answers A
// queries for the names and aliases of the containers on that network, and
// relays every other query to upstream resolvers.
//
// Why the gateway address and not Docker's 127.0.0.11: Docker needs a DNAT
// rule inside every container's namespace (and a listener per namespace) for
// 127.0.0.11; the gateway is already reachable from every container on the
// bridge, so one socket per network serves all of them with no per-container
// rules. Because the responder runs in the host's namespace, it can relay to
// host-loopback resolvers (systemd-resolved's 127.0.0.53) that a container
// could never reach itself.
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server, type Socket as TcpSocket } from 'node:net';

export interface Upstream { host: string; port: number }

const TYPE_A = 1;
const TYPE_PTR = 12;
const CLASS_IN = 1;
const TTL_SECONDS = 60;

interface Question { name: string; type: number; cls: number; end: number }

/** Reads the first question of a DNS message (no compression in questions, per practice). */
export function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) { off++; break; }
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), cls: msg.readUInt16BE(off + 2), end: off + 4 };
}

/** Builds an authoritative answer echoing the question, with A records for `ips`. */
export function buildAnswer(query: Buffer, q: Question, ips: string[], rcode = 0): Buffer {
  const question = query.subarray(12, q.end);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(query.readUInt16BE(0), 0);
  const rd = query.readUInt16BE(2) & 0x0100;
  head.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | (rcode & 0xf), 2); // QR AA RD RA rcode
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(ips.length, 6);
  const answers = ips.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(TTL_SECONDS, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => { rr[12 + i] = Number(o); });
    return rr;
  });
  return Buffer.concat([head, question, ...answers]);
}

/** Encodes a domain name as DNS labels. */
function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => {
    const b = Buffer.from(l, 'latin1').subarray(0, 63);
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

/** An authoritative answer with one PTR record pointing at `target`. */
export function buildPtrAnswer(query: Buffer, q: Question, target: string): Buffer {
  const base = buildAnswer(query, q, []);
  base.writeUInt16BE(1, 6);
  const rdata = encodeName(target);
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(TYPE_PTR, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(TTL_SECONDS, 6);
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([base, rr, rdata]);
}

/** 10.213.0.2 for "2.0.213.10.in-addr.arpa", else undefined. */
export function reverseAddress(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  return m ? [m[4], m[3], m[2], m[1]].join('.') : undefined;
}

export interface DnsServerOptions {
  /** Address to bind (the network's gateway). */
  address: string;
  port?: number;
  /** Resolvers for names this network does not know. */
  upstreams: () => Upstream[];
  /** Per-client upstream override (a container started with --dns). */
  upstreamsFor?: (clientIp: string) => Upstream[] | undefined;
  /**
   * Addresses of `name` on the client's other networks: a container on two
   * networks asks one responder (its resolv.conf names one) but resolves the
   * names of both, as in Docker.
   */
  lookupFor?: (name: string, clientIp: string) => string[];
  timeoutMs?: number;
}

export class EmbeddedDns {
  /** name (lowercase) -> set of IPv4 addresses */
  private readonly records = new Map<string, Set<string>>();
  private socket: Socket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<TcpSocket>();

  constructor(readonly opts: DnsServerOptions) {}

  add(names: string[], ip: string): void {
    for (const n of names) {
      const k = n.toLowerCase();
      if (!k) continue;
      let s = this.records.get(k);
      if (!s) this.records.set(k, (s = new Set()));
      s.add(ip);
    }
  }

  remove(names: string[], ip: string): void {
    for (const n of names) {
      const k = n.toLowerCase();
      const s = this.records.get(k);
      if (!s) continue;
      s.delete(ip);
      if (s.size === 0) this.records.delete(k);
    }
  }

  /** The first name registered for ip (reverse lookup), if any. */
  nameOf(ip: string): string | undefined {
    for (const [name, ips] of this.records) if (ips.has(ip)) return name;
    return undefined;
  }

  lookup(name: string): string[] {
    return [...(this.records.get(name.toLowerCase().replace(/\.$/, '')) ?? [])];
  }

  async start(): Promise<void> {
    const sock = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.opts.port ?? 53, this.opts.address, () => { sock.off('error', reject); resolve(); });
    });
    sock.on('error', () => { /* a bad datagram must not kill the responder */ });
    sock.on('message', (msg, rinfo) => {
      void this.answer(msg, rinfo.address, 'udp').then((a) => { if (a) this.socket?.send(a, rinfo.port, rinfo.address); });
    });
    this.socket = sock;
    // TCP on the same port (RFC 7766): resolvers retry over TCP when a UDP
    // answer comes back truncated. Messages carry a 2-byte length prefix.
    const port = sock.address().port;
    const tcp = createServer((c) => this.serveTcp(c));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, this.opts.address, () => { tcp.off('error', reject); resolve(); });
    });
    tcp.on('error', () => { /* keep serving */ });
    this.tcp = tcp;
  }

  private serveTcp(c: TcpSocket): void {
    this.conns.add(c);
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => c.destroy());
    c.setTimeout(10_000, () => c.destroy());
    let buf = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void this.answer(msg, c.remoteAddress ?? '', 'tcp').then((a) => {
          if (!a || c.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(a.length);
          c.write(Buffer.concat([len, a]));
        });
      }
    });
  }

  async stop(): Promise<void> {
    const s = this.socket;
    const t = this.tcp;
    this.socket = undefined;
    this.tcp = undefined;
    for (const c of this.conns) c.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
    if (t) await new Promise<void>((r) => t.close(() => r()));
  }

  /** The answer to one query from host (undefined: not a query, drop it). */
  private async answer(msg: Buffer, host: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const q = parseQuestion(msg);
    if (!q || (msg.readUInt16BE(2) & 0x8000)) return undefined; // not a query
    const rev = q.type === TYPE_PTR ? reverseAddress(q.name) : undefined;
    const revName = rev ? this.nameOf(rev) : undefined;
    if (revName && q.cls === CLASS_IN) return buildPtrAnswer(msg, q, revName);
    const own = this.records.get(q.name);
    const other = this.opts.lookupFor?.(q.name, host) ?? [];
    const local = own || other.length ? new Set([...(own ?? []), ...other]) : undefined;
    if (local && q.cls === CLASS_IN) {
      // Known name: A gets the addresses, AAAA and the rest an empty NOERROR so
      // resolvers do not go on to search domains or upstreams.
      return buildAnswer(msg, q, q.type === TYPE_A ? [...local] : []);
    }
    const ups = this.opts.upstreamsFor?.(host.replace(/^::ffff:/, '')) ?? this.opts.upstreams();
    for (const up of ups) {
      const timeout = this.opts.timeoutMs ?? 2000;
      const answer = transport === 'udp' ? await forward(msg, up, timeout) : await forwardTcp(msg, up, timeout);
      if (answer) return answer;
    }
    return buildAnswer(msg, q, [], 2); // SERVFAIL
  }
}

/** Relays one query over TCP (the client came over TCP: a UDP answer was truncated). */
function forwardTcp(msg: Buffer, up: Upstream, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const c = connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    const done = (b: Buffer | undefined) => { clearTimeout(t); c.destroy(); resolve(b); };
    const t = setTimeout(() => done(undefined), timeoutMs);
    c.on('error', () => done(undefined));
    c.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      c.write(Buffer.concat([len, msg]));
    });
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
  });
}

/** Relays one query over UDP; undefined on timeout or error. */
function forward(msg: Buffer, up: Upstream, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket(up.host.includes(':') ? 'udp6' : 'udp4');
    const done = (b: Buffer | undefined) => { clearTimeout(t); s.close(); resolve(b); };
    const t = setTimeout(() => done(undefined), timeoutMs);
    s.on('error', () => done(undefined));
    s.on('message', (b) => { if (b.length >= 2 && b.readUInt16BE(0) === msg.readUInt16BE(0)) done(b); });
    s.send(msg, up.port, up.host);
  });
}
