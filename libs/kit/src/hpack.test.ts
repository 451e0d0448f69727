// HPACK against RFC 7541 Appendix C: the decoder must read every example
// block to its header list and dynamic table, with and without Huffman,
// through eviction; and refuse what the RFC says is an error.
import { describe, expect, it } from 'vitest';
import { encodeHeaders, HpackDecoder, HpackError, type HeaderField } from './hpack';
import { huffmanDecode, huffmanEncode } from './hpack-huffman';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('HPACK decoder (RFC 7541 Appendix C)', () => {
  it('reads the header field representations of C.2', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))).toEqual([['custom-key', 'custom-header']]);
    expect(d.table).toEqual([['custom-key', 'custom-header']]);
    expect(d.tableSize).toBe(55);

    const d2 = new HpackDecoder();
    expect(d2.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))).toEqual([[':path', '/sample/path']]);
    expect(d2.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))).toEqual([['password', 'secret']]);
    expect(d2.decode(hex('82'))).toEqual([[':method', 'GET']]);
    expect(d2.tableSize).toBe(0); // without indexing and never indexed leave the table alone
  });

  const requests: Array<[HeaderField[], number]> = [
    [[[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']], 57],
    [[[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']], 110],
    [[[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']], 164],
  ];

  it.each([
    ['without Huffman (C.3)', ['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', '8286 84be 5808 6e6f 2d63 6163 6865', '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65']],
    ['with Huffman (C.4)', ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']],
  ])('reads three requests on one connection %s', (_name, blocks) => {
    const d = new HpackDecoder();
    blocks.forEach((b, i) => {
      expect(d.decode(hex(b))).toEqual(requests[i]![0]);
      expect(d.tableSize).toBe(requests[i]![1]);
    });
    expect(d.table).toEqual([['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
  });

  const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
  const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
  const loc = 'https://www.example.com';
  const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
  const responses: Array<[HeaderField[], HeaderField[], number]> = [
    [
      [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', loc]],
      [['location', loc], ['date', date1], ['cache-control', 'private'], [':status', '302']],
      222,
    ],
    [
      [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', loc]],
      // ":status: 302" evicted to make room for ":status: 307"
      [[':status', '307'], ['location', loc], ['date', date1], ['cache-control', 'private']],
      222,
    ],
    [
      [[':status', '200'], ['cache-control', 'private'], ['date', date2], ['location', loc], ['content-encoding', 'gzip'], ['set-cookie', cookie]],
      // three entries evicted, one of them (date) re-added
      [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', date2]],
      215,
    ],
  ];

  it.each([
    [
      'without Huffman (C.5)',
      [
        '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '4803 3330 37c1 c0bf',
        '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
      ],
    ],
    [
      'with Huffman (C.6)',
      [
        '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
        '4883 640e ffc1 c0bf',
        '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
      ],
    ],
  ])('reads three responses %s, evicting from a 256-octet table', (_name, blocks) => {
    const d = new HpackDecoder(256);
    blocks.forEach((b, i) => {
      expect(d.decode(hex(b))).toEqual(responses[i]![0]);
      expect(d.table).toEqual(responses[i]![1]);
      expect(d.tableSize).toBe(responses[i]![2]);
    });
  });

  it('applies dynamic table size updates: a smaller table evicts, an entry larger than the table empties it', () => {
    const d = new HpackDecoder(256);
    d.decode(hex('4803 3330 37')); // ":status: 307", with incremental indexing
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    expect(d.table.map(([n]) => n)).toEqual(['custom-key', ':status']);
    // Size update to 60 at the start of a block: only the newest entry (55 octets) still fits.
    expect(d.decode(hex('3f1d 82'))).toEqual([[':method', 'GET']]);
    expect(d.table).toEqual([['custom-key', 'custom-header']]);
    // An entry of 32 + 10 + 40 octets is larger than the 60-octet table: it empties it and is not kept.
    expect(d.decode(Buffer.concat([hex('400a'), Buffer.from('custom-key'), hex('28'), Buffer.from('v'.repeat(40))]))).toEqual([['custom-key', 'v'.repeat(40)]]);
    expect(d.table).toEqual([]);
    expect(d.tableSize).toBe(0);
    // Index 62 is now past the end of the tables.
    expect(() => d.decode(hex('be'))).toThrow(/index 62 is past the end/);
  });

  it('refuses blocks that break the rules, naming what is wrong', () => {
    const bad: Array<[string, RegExp]> = [
      ['80', /index 0/],
      ['ff 80 80 80 80 10', /larger than 2\^31/],
      ['ff', /runs past the end/],
      ['040c 2f73', /runs past the end of the header block/],
      ['82 3f e1 1f', /size update after a header field/],
      ['3f e2 1f', /size update to 4097, above the 4096 announced/],
      // Huffman: the EOS symbol's code inside a string; padding of 8 bits; padding that is not all ones.
      ['0084 ffff ffff 0082 6161', /end-of-string/],
      ['0082 1fff 0082 6161', /padding/],
      ['0081 00 0082 6161', /padding/],
    ];
    for (const [block, message] of bad) {
      const d = new HpackDecoder();
      expect(() => d.decode(hex(block)), block).toThrow(HpackError);
      expect(() => new HpackDecoder().decode(hex(block)), block).toThrow(message);
    }
  });

  it('bounds the decoded header list, counting 32 octets per field as SETTINGS_MAX_HEADER_LIST_SIZE does', () => {
    const d = new HpackDecoder(4096, 100);
    // 7 + 3 + 32 = 42 per ":status: 200"; two fit, three do not.
    expect(d.decode(hex('8888'))).toHaveLength(2);
    expect(() => d.decode(hex('888888'))).toThrow(/header list larger than 100 octets/);
  });
});

describe('HPACK encoder and Huffman code', () => {
  it('encodes what a gRPC request carries so that a decoder reads it back, static entries by index', () => {
    const fields: HeaderField[] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/berth.engine.v1.Engine/Version'],
      [':authority', 'localhost'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['grpc-timeout', '30000m'],
      ['x-long', 'x'.repeat(300)], // a length past the 7-bit prefix
    ];
    const block = encodeHeaders(fields);
    expect(block.subarray(0, 2)).toEqual(hex('8386')); // :method POST and :scheme http, indexed
    const d = new HpackDecoder();
    expect(d.decode(block)).toEqual(fields);
    expect(d.tableSize).toBe(0); // never indexed into the peer's table
    // A size update owed after the peer lowered its table: first in the block (C.1.2's 1337 shape for 5 bits).
    const withUpdate = encodeHeaders([[':method', 'POST']], 1337);
    expect(withUpdate).toEqual(hex('3f 9a0a 83'));
  });

  it('decodes Appendix B codes for every octet and rejects what is not a code', () => {
    expect(huffmanEncode(Buffer.from('www.example.com'))).toEqual(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'));
    expect(huffmanDecode(hex('a8eb 1064 9cbf')).toString('latin1')).toBe('no-cache');
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(huffmanDecode(huffmanEncode(all))).toEqual(all);
    expect(huffmanDecode(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });
});
