import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SPDY_DICTIONARY, SPDY_DICTIONARY_ADLER32 } from './dictionary';
import {
  ControlType,
  FrameParser,
  decodeHeaderBlock,
  encodeDataFrame,
  encodeHeaderBlock,
  encodeSynReply,
  encodeSynStream,
} from './frames';
import { HeaderDeflater, HeaderInflater } from './header-compression';

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

describe('SPDY dictionary', () => {
  it('is the 1423 bytes of the SPDY/3 draft, checksum as zlib announces it', () => {
    expect(SPDY_DICTIONARY.length).toBe(1423);
    expect(adler32(SPDY_DICTIONARY)).toBe(SPDY_DICTIONARY_ADLER32);
    expect(SPDY_DICTIONARY.subarray(0, 11).toString('latin1')).toBe('\0\0\0\u0007options');
    expect(SPDY_DICTIONARY.subarray(-6).toString('latin1')).toBe('enq=0.');
  });
});

describe('header blocks', () => {
  it('round-trip names (lower-cased) and NUL-joined values', () => {
    const raw = encodeHeaderBlock({ StreamType: 'stdout', port: ['80', '81'] });
    const back = decodeHeaderBlock(raw);
    expect(back.get('streamtype')).toEqual(['stdout']);
    expect(back.get('port')).toEqual(['80', '81']);
  });

  it('refuses a truncated block', () => {
    const raw = encodeHeaderBlock({ streamtype: 'stdout' });
    expect(() => decodeHeaderBlock(raw.subarray(0, raw.length - 2))).toThrow(/malformed SPDY header block/);
  });

  it('our stored-block stream is one zlib stream any inflater with the dictionary reads, block after block', () => {
    const deflater = new HeaderDeflater();
    const a = deflater.compress(encodeHeaderBlock({ streamtype: 'error' }));
    const b = deflater.compress(encodeHeaderBlock({ streamtype: 'x'.repeat(70000) }));
    // zlib header with FDICT and the dictionary's id, as Go's zlib.NewReaderDict checks
    expect(a[0]).toBe(0x78);
    expect((a[0]! * 256 + a[1]!) % 31).toBe(0);
    expect(a[1]! & 0x20).toBe(0x20);
    expect(a.readUInt32BE(2)).toBe(SPDY_DICTIONARY_ADLER32);
    // every block ends as a sync flush does: Go's flate only hands a stored block's bytes out at the next block
    expect(a.subarray(-5)).toEqual(Buffer.from([0, 0, 0, 0xff, 0xff]));
    expect(b.subarray(-5)).toEqual(Buffer.from([0, 0, 0, 0xff, 0xff]));
    const inflate = zlib.inflateSync(Buffer.concat([a, b]), { dictionary: SPDY_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const first = encodeHeaderBlock({ streamtype: 'error' });
    expect(decodeHeaderBlock(inflate.subarray(0, first.length)).get('streamtype')).toEqual(['error']);
    expect(decodeHeaderBlock(inflate.subarray(first.length)).get('streamtype')?.[0]?.length).toBe(70000);
  });

  it('inflates a peer that really compresses (one context across blocks, as Go writes them)', async () => {
    const deflate = zlib.createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 });
    const chunks: Buffer[] = [];
    deflate.on('data', (c: Buffer) => chunks.push(c));
    const block = async (h: Record<string, string>): Promise<Buffer> => {
      deflate.write(encodeHeaderBlock(h));
      await new Promise<void>((r) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      const out = Buffer.concat(chunks);
      chunks.length = 0;
      return out;
    };
    const b1 = await block({ streamtype: 'stdin' });
    const b2 = await block({ streamtype: 'stdout' });
    const inflater = new HeaderInflater();
    try {
      expect(decodeHeaderBlock(await inflater.decompress(b1)).get('streamtype')).toEqual(['stdin']);
      expect(decodeHeaderBlock(await inflater.decompress(b2)).get('streamtype')).toEqual(['stdout']);
    } finally {
      inflater.close();
      deflate.destroy();
    }
  });

  it('refuses a block compressed without the dictionary', async () => {
    const inflater = new HeaderInflater();
    try {
      const bad = zlib.deflateSync(encodeHeaderBlock({ a: 'b' }), { dictionary: Buffer.from('not the spdy dictionary') });
      await expect(inflater.decompress(bad)).rejects.toThrow(/does not inflate/);
    } finally {
      inflater.close();
    }
  });
});

describe('FrameParser', () => {
  it('reassembles frames split anywhere and keeps their order', () => {
    const bytes = Buffer.concat([
      encodeSynStream(1, Buffer.from('hdr')),
      encodeDataFrame(1, Buffer.from('hello'), false),
      encodeSynReply(1, Buffer.from('h')),
      encodeDataFrame(3, Buffer.alloc(0), true),
    ]);
    const parser = new FrameParser();
    const frames = [];
    for (let i = 0; i < bytes.length; i += 3) frames.push(...parser.push(bytes.subarray(i, i + 3)));
    expect(frames.map((f) => (f.kind === 'data' ? `data:${f.streamId}:${f.flags}:${f.data.toString()}` : `ctl:${f.type}:${f.version}`))).toEqual([
      `ctl:${ControlType.SynStream}:3`,
      'data:1:0:hello',
      `ctl:${ControlType.SynReply}:3`,
      'data:3:1:',
    ]);
  });

  it('refuses a frame larger than its bound before buffering it', () => {
    const parser = new FrameParser(1024);
    const head = encodeDataFrame(1, Buffer.alloc(2048), false).subarray(0, 8);
    expect(() => parser.push(head)).toThrow(/larger than the 1024/);
  });
});
