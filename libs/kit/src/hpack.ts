// HPACK (RFC 7541), the header compression of HTTP/2, for berth's own
// HTTP/2 client (h2-session.ts) and the :authority proxy in front of the CRI
// socket (uds-authority.ts, which decodes what Go clients send).
//
// The encoder sends what a gRPC request needs and no more: a static-table
// index where name and value match, else a literal without indexing (with
// the static table's name index when there is one), strings raw, never
// Huffman. It keeps no dynamic table, which RFC 7541 allows (section 2.3.2
// describes the table an encoder may use; nothing obliges it to insert).
//
// The decoder is complete, since a server may use all of HPACK: the static
// table (Appendix A), the dynamic table with its size updates and eviction
// (sections 4 and 6.3), indexed and literal fields of every kind (6.1, 6.2),
// integers (5.1) and Huffman-coded strings (5.2, hpack-huffman.ts). A block
// that breaks a rule throws (the session answers COMPRESSION_ERROR and
// closes the connection: RFC 9113 section 4.3); the decoded header list is
// bounded by `maxHeaderListSize` (RFC 9113 section 6.5.2's measure: octets of
// names and values plus 32 per field).
import { huffmanDecode } from './hpack-huffman';

/** One header field: name and value as octets read one-to-one (latin1). */
export type HeaderField = [name: string, value: string];

/** Appendix A, index 1-61. */
export const STATIC_TABLE: readonly HeaderField[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** An HPACK rule broken by the peer's header block (the connection's COMPRESSION_ERROR). */
export class HpackError extends Error {}

/** Per-entry overhead of the dynamic table and of a header list's size (RFC 7541 4.1, RFC 9113 6.5.2). */
const ENTRY_OVERHEAD = 32;

/** Writes an integer with an N-bit prefix (RFC 7541 5.1), the first octet's high bits from `flags`. */
function pushInt(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function pushString(out: number[], s: string): void {
  pushInt(out, s.length, 7, 0); // H = 0: raw octets
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

let staticIndex: Map<string, number> | undefined;
/** name -> first index, and name\0value -> index, of the static table. */
function staticLookup(): Map<string, number> {
  if (staticIndex) return staticIndex;
  const m = new Map<string, number>();
  STATIC_TABLE.forEach(([name, value], i) => {
    if (!m.has(name)) m.set(name, i + 1);
    m.set(`${name}\0${value}`, i + 1);
  });
  return (staticIndex = m);
}

/**
 * Encodes a header list (names lower-case, values latin1) as one header
 * block. `tableSizeUpdate` starts the block with a dynamic table size update,
 * as RFC 7541 4.2 requires after the peer lowered SETTINGS_HEADER_TABLE_SIZE.
 */
export function encodeHeaders(fields: readonly HeaderField[], tableSizeUpdate?: number): Buffer {
  const out: number[] = [];
  if (tableSizeUpdate !== undefined) pushInt(out, tableSizeUpdate, 5, 0x20);
  const lookup = staticLookup();
  for (const [name, value] of fields) {
    const full = lookup.get(`${name}\0${value}`);
    if (full !== undefined) {
      pushInt(out, full, 7, 0x80); // indexed header field (6.1)
      continue;
    }
    const nameIndex = lookup.get(name);
    if (nameIndex !== undefined) {
      pushInt(out, nameIndex, 4, 0x00); // literal without indexing, indexed name (6.2.2)
    } else {
      out.push(0x00); // literal without indexing, new name
      pushString(out, name);
    }
    pushString(out, value);
  }
  return Buffer.from(out);
}

/** The decoding side of one connection: its dynamic table lives as long as the connection. */
export class HpackDecoder {
  /** Newest first: dynamic index 62 is entries[0]. */
  private entries: HeaderField[] = [];
  private sizes: number[] = [];
  private size = 0;
  private maxSize: number;

  /**
   * @param settingsMaxSize SETTINGS_HEADER_TABLE_SIZE this side announced:
   *   the largest table a size update may ask for.
   * @param maxHeaderListSize the largest decoded header list accepted.
   */
  constructor(
    private readonly settingsMaxSize = 4096,
    private readonly maxHeaderListSize = 64 * 1024,
  ) {
    this.maxSize = settingsMaxSize;
  }

  /** The dynamic table's current size in octets (RFC 7541 4.1). */
  get tableSize(): number {
    return this.size;
  }

  /** The dynamic table's entries, newest first (for tests). */
  get table(): readonly HeaderField[] {
    return this.entries;
  }

  /** Decodes one complete header block into its fields, in order; throws HpackError on a bad block. */
  decode(block: Uint8Array): HeaderField[] {
    const fields: HeaderField[] = [];
    let listSize = 0;
    let pos = 0;
    let sawField = false;

    const int = (prefixBits: number): number => {
      const max = (1 << prefixBits) - 1;
      let value = block[pos++]! & max;
      if (value < max) return value;
      for (let shift = 0; ; shift += 7) {
        if (pos >= block.length) throw new HpackError('HPACK: an integer runs past the end of the header block');
        const b = block[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        if (value > 0x7fffffff) throw new HpackError('HPACK: an integer is larger than 2^31 - 1');
        if ((b & 0x80) === 0) return value;
      }
    };
    const str = (): string => {
      if (pos >= block.length) throw new HpackError('HPACK: a string is missing at the end of the header block');
      const huffman = (block[pos]! & 0x80) !== 0;
      const length = int(7);
      if (length > block.length - pos) throw new HpackError(`HPACK: a string of ${length} octets runs past the end of the header block`);
      const raw = block.subarray(pos, pos + length);
      pos += length;
      if (!huffman) return Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1');
      try {
        return huffmanDecode(raw).toString('latin1');
      } catch (e) {
        throw new HpackError((e as Error).message);
      }
    };
    const at = (index: number): HeaderField => {
      if (index === 0) throw new HpackError('HPACK: index 0 is not a header field');
      if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
      const entry = this.entries[index - STATIC_TABLE.length - 1];
      if (!entry) throw new HpackError(`HPACK: index ${index} is past the end of the tables (${STATIC_TABLE.length + this.entries.length} entries)`);
      return entry;
    };
    const emit = (field: HeaderField): void => {
      sawField = true;
      listSize += field[0].length + field[1].length + ENTRY_OVERHEAD;
      if (listSize > this.maxHeaderListSize) {
        throw new HpackError(`the server sent a header list larger than ${this.maxHeaderListSize} octets (SETTINGS_MAX_HEADER_LIST_SIZE)`);
      }
      fields.push(field);
    };

    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        emit(at(int(7))); // indexed header field (6.1)
      } else if (b & 0x40) {
        const nameIndex = int(6); // literal with incremental indexing (6.2.1)
        const name = nameIndex ? at(nameIndex)[0] : str();
        const field: HeaderField = [name, str()];
        emit(field);
        this.insert(field);
      } else if (b & 0x20) {
        // dynamic table size update (6.3): only at the start of a block (4.2)
        if (sawField) throw new HpackError('HPACK: a dynamic table size update after a header field');
        const size = int(5);
        if (size > this.settingsMaxSize) throw new HpackError(`HPACK: a dynamic table size update to ${size}, above the ${this.settingsMaxSize} announced`);
        this.maxSize = size;
        this.evict(0);
      } else {
        // literal without indexing (0000) or never indexed (0001) (6.2.2, 6.2.3)
        const nameIndex = int(4);
        const name = nameIndex ? at(nameIndex)[0] : str();
        emit([name, str()]);
      }
    }
    return fields;
  }

  /** Adds an entry, evicting the oldest to make room; an entry larger than the table empties it (4.4). */
  private insert(field: HeaderField): void {
    const entrySize = field[0].length + field[1].length + ENTRY_OVERHEAD;
    this.evict(entrySize);
    if (entrySize > this.maxSize) return;
    this.entries.unshift(field);
    this.sizes.unshift(entrySize);
    this.size += entrySize;
  }

  /** Evicts from the oldest end until `room` more octets fit (4.3, 4.4). */
  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.maxSize) {
      this.entries.pop();
      this.size -= this.sizes.pop()!;
    }
  }
}
