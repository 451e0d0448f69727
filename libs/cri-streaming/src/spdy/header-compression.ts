// SPDY/3 header block compression. Each direction of a connection is ONE zlib stream, primed with the
// SPDY dictionary, that every header block of that direction continues: a block is the bytes the
// sender produced up to a sync flush. The inflater must therefore keep its state across frames.
//
// Outgoing, we send stored (uncompressed) deflate blocks: a valid zlib stream any inflater reads
// (Go's compress/zlib included), produced synchronously without keeping a deflate state, and our
// header blocks are a few bytes (SYN_REPLY carries none). The stream opens with the zlib header
// 0x78 0x20 (deflate, 32 KiB window, FDICT set; 0x7820 is a multiple of 31 so FCHECK is 0) and the
// dictionary's Adler-32, which the peer checks against its own dictionary; each block ends with the
// empty stored block of a sync flush, as a real compressor's output does.
//
// Incoming, the peer (Go) compresses for real, so we inflate with node:zlib, one Inflate per
// connection, a block at a time: write it, flush with Z_SYNC_FLUSH, collect what came out.
import * as zlib from 'node:zlib';
import { InvalidArgumentError } from '@berth/errors';
import { SPDY_DICTIONARY, SPDY_DICTIONARY_ADLER32 } from './dictionary';

const STORED_MAX = 0xffff;
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

export class HeaderDeflater {
  private started = false;

  /** The bytes that carry `raw` (an encoded header block) as the next part of this direction's zlib stream. */
  compress(raw: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      const head = Buffer.alloc(6);
      head[0] = 0x78;
      head[1] = 0x20;
      head.writeUInt32BE(SPDY_DICTIONARY_ADLER32, 2);
      parts.push(head);
      this.started = true;
    }
    let off = 0;
    do {
      const n = Math.min(STORED_MAX, raw.length - off);
      const block = Buffer.alloc(5);
      block[0] = 0x00; // BFINAL=0, BTYPE=00 (stored), padded to the byte
      block.writeUInt16LE(n, 1);
      block.writeUInt16LE(~n & 0xffff, 3);
      parts.push(block, raw.subarray(off, off + n));
      off += n;
    } while (off < raw.length);
    // The empty stored block a sync flush ends with (00 00 00 ff ff). It is not decoration: Go's
    // flate hands out a stored block's bytes only when the next block begins, and reading past the
    // frame would be a sticky unexpected-EOF; an empty stored block makes it flush at once.
    parts.push(SYNC_MARKER);
    return Buffer.concat(parts);
  }
}

export class HeaderInflater {
  private readonly inflate: zlib.Inflate;
  private out: Buffer[] = [];
  private outBytes = 0;
  private failure: Error | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  /** maxBlock: the most bytes one decompressed header block may have (a bound on what a peer makes us hold). */
  constructor(private readonly maxBlock = 64 * 1024) {
    this.inflate = zlib.createInflate({ dictionary: SPDY_DICTIONARY });
    this.inflate.on('data', (chunk: Buffer) => {
      this.outBytes += chunk.length;
      if (this.outBytes <= this.maxBlock) this.out.push(chunk);
    });
    this.inflate.on('error', (err) => {
      this.failure = err;
    });
  }

  /** Decompresses the next header block of the stream. Blocks are processed in call order. */
  decompress(compressed: Buffer): Promise<Buffer> {
    const run = this.chain.then(() => this.one(compressed));
    this.chain = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.inflate.destroy();
  }

  private one(compressed: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failure) {
        reject(new InvalidArgumentError(`SPDY header block does not inflate: ${this.failure.message}`, { field: 'headers', cause: this.failure }));
        return;
      }
      const fail = (err: Error): void => {
        reject(new InvalidArgumentError(`SPDY header block does not inflate: ${err.message}`, { field: 'headers', cause: err }));
      };
      this.inflate.once('error', fail);
      this.inflate.write(compressed);
      this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.inflate.off('error', fail);
        if (this.failure) return;
        const total = this.outBytes;
        const block = Buffer.concat(this.out);
        this.out = [];
        this.outBytes = 0;
        if (total > this.maxBlock) {
          reject(new InvalidArgumentError(`SPDY header block of ${total} bytes exceeds ${this.maxBlock}`, { field: 'headers' }));
          return;
        }
        resolve(block);
      });
    });
  }
}
