// Go gRPC clients that dial a unix socket by path (crictl and critest v1.26, kubelet's CRI client,
// CSI sidecars) send the socket's path as the HTTP/2 `:authority`, e.g. "/run/berth/cri.sock".
// nghttp2, under Node's http2 and so under grpc-js, checks :authority against RFC 3986's authority
// characters, finds '/', and resets every such stream with PROTOCOL_ERROR before any handler runs.
// (grpc-go itself, tonic and hyper had the same argument; Kubernetes later switched its clients to
// "localhost".) Node exposes no switch for that check.
//
// So a service that such clients call listens through this proxy: the public socket accepts the
// connection, and the bytes go to the real server's socket unchanged except the client's header
// blocks. Those are decoded with the client's HPACK state (hpack.ts), an invalid :authority becomes
// "localhost", and the block is re-encoded as literals that never touch the server's dynamic table
// (so the server's decoder stays in step whatever the client indexed). Server-to-client bytes pass
// untouched. HEADERS padding is dropped, priority kept; a block that grows past 16 KiB (the default
// SETTINGS_MAX_FRAME_SIZE) is split into CONTINUATION frames.
import * as net from 'node:net';
import { chmodSync, rmSync } from 'node:fs';
import { HpackDecoder } from './hpack';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADERS = 0x1;
const FRAME_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const MAX_FRAME = 16384;
/** The most header bytes one request may carry (a bound on what a client makes us buffer). */
const MAX_HEADER_BLOCK = 1 << 20;

/** RFC 3986 authority characters, as nghttp2_check_authority allows them. */
const AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:%[\]@]*$/;

function hpackInt(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const out = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** Header fields as "literal header field never indexed, new name", no Huffman (RFC 7541 6.2.3). */
export function encodeLiteralBlock(fields: Array<{ name: string; value: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const { name, value } of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x10]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/**
 * Rewrites one client-to-server HTTP/2 byte stream. push() returns the bytes to forward; it throws on
 * a malformed header block (the caller drops the connection).
 */
export class AuthorityRewriter {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  // The client's table as the server's SETTINGS_HEADER_TABLE_SIZE (the default) allows it; the
  // decoded list bounded as the block is.
  private readonly decoder = new HpackDecoder(4096, MAX_HEADER_BLOCK);
  private pending: { streamId: number; flags: number; priority: Buffer | undefined; fragments: Buffer[]; bytes: number } | undefined;

  push(chunk: Buffer): Buffer {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    if (!this.prefaceSeen) {
      if (this.buf.length < PREFACE.length) return Buffer.alloc(0);
      out.push(this.buf.subarray(0, PREFACE.length));
      this.buf = this.buf.subarray(PREFACE.length);
      this.prefaceSeen = true;
    }
    while (this.buf.length >= 9) {
      const length = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + length) break;
      const type = this.buf[3] as number;
      const flags = this.buf[4] as number;
      const streamId = this.buf.readUInt32BE(5) & 0x7fffffff;
      const payload = this.buf.subarray(9, 9 + length);
      const whole = this.buf.subarray(0, 9 + length);
      this.buf = this.buf.subarray(9 + length);
      if (type === FRAME_HEADERS) {
        let p = payload;
        let pad = 0;
        if (flags & FLAG_PADDED) {
          pad = p[0] ?? 0;
          p = p.subarray(1);
        }
        let priority: Buffer | undefined;
        if (flags & FLAG_PRIORITY) {
          priority = Buffer.from(p.subarray(0, 5));
          p = p.subarray(5);
        }
        if (pad > p.length) throw new Error('HTTP/2 HEADERS padding longer than the frame');
        const fragment = Buffer.from(p.subarray(0, p.length - pad));
        this.pending = { streamId, flags, priority, fragments: [fragment], bytes: fragment.length };
      } else if (type === FRAME_CONTINUATION && this.pending && this.pending.streamId === streamId) {
        this.pending.fragments.push(Buffer.from(payload));
        this.pending.bytes += payload.length;
        this.pending.flags |= flags & FLAG_END_HEADERS;
      } else {
        out.push(Buffer.from(whole));
        continue;
      }
      if (this.pending.bytes > MAX_HEADER_BLOCK) throw new Error('HTTP/2 header block too large');
      if (this.pending.flags & FLAG_END_HEADERS) {
        out.push(...this.rewrite(this.pending));
        this.pending = undefined;
      }
    }
    return Buffer.concat(out);
  }

  private rewrite(h: { streamId: number; flags: number; priority: Buffer | undefined; fragments: Buffer[] }): Buffer[] {
    // A bad block throws (the caller drops the connection).
    const fields = this.decoder.decode(Buffer.concat(h.fragments)).map(([name, value]) => ({ name, value }));
    for (const f of fields) {
      if (f.name === ':authority' && !AUTHORITY.test(f.value)) f.value = 'localhost';
    }
    let block = encodeLiteralBlock(fields);
    const frames: Buffer[] = [];
    const firstRoom = MAX_FRAME - (h.priority ? 5 : 0);
    const first = block.subarray(0, firstRoom);
    block = block.subarray(first.length);
    const endStream = h.flags & FLAG_END_STREAM;
    frames.push(
      frame(FRAME_HEADERS, endStream | (h.priority ? FLAG_PRIORITY : 0) | (block.length === 0 ? FLAG_END_HEADERS : 0), h.streamId, h.priority ? Buffer.concat([h.priority, first]) : first),
    );
    while (block.length > 0) {
      const piece = block.subarray(0, MAX_FRAME);
      block = block.subarray(piece.length);
      frames.push(frame(FRAME_CONTINUATION, block.length === 0 ? FLAG_END_HEADERS : 0, h.streamId, piece));
    }
    return frames;
  }
}

/**
 * Listens on `publicPath` (mode 0660) and forwards each connection to the HTTP/2 server on
 * `targetPath`, rewriting path-like :authority values. Close the returned server to stop.
 */
export async function listenAuthorityProxy(publicPath: string, targetPath: string): Promise<net.Server> {
  rmSync(publicPath, { force: true });
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPath);
    const rewriter = new AuthorityRewriter();
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('data', (chunk: Buffer) => {
      let out: Buffer;
      try {
        out = rewriter.push(chunk);
      } catch {
        drop();
        return;
      }
      if (out.length > 0 && !upstream.write(out)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    client.on('end', () => upstream.end());
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(publicPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(publicPath, 0o660);
  return server;
}
