// A push-style tar reader: feed it the uncompressed bytes chunk by chunk and it
// calls back synchronously with each entry's header and data. Written for the
// layers service instead of using tar-stream because applyLayer needs things
// tar-stream does not decode (PAX mtime with nanoseconds, uid/gid/size from
// PAX, SCHILY.xattr.* as raw bytes, GNU sparse files in both the old 'S' and
// the PAX 1.0/0.1 forms) and because a synchronous parser with no stream per
// entry is what lets unpacking keep up with GNU tar (see docs/design/layers.md).
//
// Formats: ustar, GNU (long names 'L'/'K', base-256 numbers, sparse 'S'), and
// PAX ('x' per entry, 'g' global). Anything else is rejected by the consumer
// through the entry's `type`.
import { InvalidArgumentError, DataLossError } from '@berth/errors';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One sparse data segment: `length` bytes of the stored data go at `offset` in the file. */
export interface SparseSegment { offset: number; length: number }

export interface TarHeader {
  /** Path as stored (PAX path / GNU long name applied); not yet cleaned or checked. */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Size of the file once written (for sparse files the apparent size). */
  size: number;
  mtimeNs: bigint;
  /** Hardlink target (a path in the archive) or symlink target (any text). */
  linkname: string;
  devMajor: number;
  devMinor: number;
  /** SCHILY.xattr.* records: name -> raw value bytes. */
  xattrs: ReadonlyMap<string, Buffer>;
  /** For sparse files: where the stored data goes; null for ordinary files. */
  sparse: SparseSegment[] | null;
}

export interface TarSink {
  /** An entry starts. Data (if any) follows through onData, then onEntryEnd. */
  onEntry(h: TarHeader): void;
  /** `chunk` belongs at byte `offset` of the current file (sparse-aware). */
  onData(chunk: Buffer, offset: number): void;
  onEntryEnd(): void;
}

const BLOCK = 512;
/** Shared empty map for the common entry without xattrs (never mutated). */
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

type State = 'header' | 'data' | 'meta' | 'sparsemap' | 'gnuext' | 'end';

/** Largest PAX header or GNU long name/link entry read (Go's archive/tar: 1 MiB). */
export const MAX_META_BYTES = 1 << 20;

export class TarReader {
  private state: State = 'header';
  private hdrBuf = Buffer.alloc(BLOCK);
  private hdrLen = 0;
  /** Bytes of the current body (data or meta record) still to read, then padding. */
  private remaining = 0;
  private padding = 0;
  private metaChunks: Buffer[] = [];
  private metaKind: 'pax' | 'global' | 'longname' | 'longlink' = 'pax';
  private pax: Map<string, Buffer> | null = null;
  private globalPax = new Map<string, Buffer>();
  private longName: string | null = null;
  private longLink: string | null = null;
  private current: TarHeader | null = null;
  // Sparse bookkeeping: segments, index of the segment being filled, bytes left in it.
  private segs: SparseSegment[] | null = null;
  private segIdx = 0;
  private segLeft = 0;
  private filePos = 0;
  private sparseMapText = '';
  private sparseMapNeeded = 0;
  private zeroBlocks = 0;
  /** Set while the body of a non-file entry is being skipped. */
  private skipping = false;
  /** Number of entries seen (headers that produced an onEntry). */
  entries = 0;

  constructor(private readonly sink: TarSink) {}

  /** True once the end-of-archive marker was read (trailing bytes are ignored). */
  get ended(): boolean { return this.state === 'end'; }

  push(chunk: Buffer): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.state === 'end') return;
      if (this.padding > 0 && this.remaining === 0) {
        const n = Math.min(this.padding, len - pos);
        this.padding -= n;
        pos += n;
        continue;
      }
      switch (this.state) {
        case 'header':
        case 'gnuext': {
          const n = Math.min(BLOCK - this.hdrLen, len - pos);
          if (n === BLOCK) {
            this.onBlock(chunk.subarray(pos, pos + BLOCK));
          } else {
            chunk.copy(this.hdrBuf, this.hdrLen, pos, pos + n);
            this.hdrLen += n;
            if (this.hdrLen === BLOCK) {
              this.hdrLen = 0;
              this.onBlock(this.hdrBuf);
            }
          }
          pos += n;
          break;
        }
        case 'meta': {
          const n = Math.min(this.remaining, len - pos);
          this.metaChunks.push(Buffer.from(chunk.subarray(pos, pos + n)));
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.endMeta();
          break;
        }
        case 'sparsemap': {
          // PAX 1.0 sparse: the map is decimal text at the start of the data,
          // padded to a block; read it whole, then the real data follows.
          const n = Math.min(this.remaining, len - pos, BLOCK - (this.sparseMapNeeded % BLOCK));
          this.sparseMapText += chunk.toString('latin1', pos, pos + n);
          this.sparseMapNeeded += n;
          this.remaining -= n;
          pos += n;
          if (this.sparseMapNeeded % BLOCK === 0 || this.remaining === 0) this.tryFinishSparseMap();
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, len - pos);
          this.emitData(chunk, pos, n);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.finishEntry();
          break;
        }
      }
    }
  }

  /** Call after the last chunk: throws if the archive stopped mid-entry. */
  end(): void {
    if (this.state === 'end') return;
    if (this.state === 'header' && this.hdrLen === 0 && this.remaining === 0 && this.padding === 0 && this.current === null) {
      // Archives without the two zero blocks still occur (some tools truncate
      // them); every entry was complete, so accept.
      return;
    }
    throw new DataLossError('layer tar ended in the middle of an entry: the blob is truncated; pull it again');
  }

  private emitData(chunk: Buffer, pos: number, n: number): void {
    if (this.skipping) return;
    if (this.segs === null) {
      if (n > 0) this.sink.onData(chunk.subarray(pos, pos + n), this.filePos);
      this.filePos += n;
      return;
    }
    while (n > 0) {
      while (this.segLeft === 0) {
        this.segIdx++;
        const s = this.segs[this.segIdx];
        if (!s) throw new InvalidArgumentError(`tar entry "${this.current?.name}": sparse map describes less data than the entry holds`, { field: this.current?.name });
        this.filePos = s.offset;
        this.segLeft = s.length;
      }
      const k = Math.min(n, this.segLeft);
      this.sink.onData(chunk.subarray(pos, pos + k), this.filePos);
      this.filePos += k;
      this.segLeft -= k;
      pos += k;
      n -= k;
    }
  }

  private onBlock(b: Buffer): void {
    if (this.state === 'gnuext') return this.onGnuExtBlock(b);
    if (isZero(b)) {
      if (++this.zeroBlocks >= 2) this.state = 'end';
      return;
    }
    if (this.zeroBlocks > 0) this.zeroBlocks = 0;
    verifyChecksum(b);
    const flag = b[156] ?? 0;
    const size = num(b, 124, 12);
    const typeChar = flag === 0 ? '0' : String.fromCharCode(flag);
    switch (typeChar) {
      case 'x': case 'g': case 'L': case 'K':
        // Held in memory until the entry it describes: bounded as Go's
        // archive/tar bounds it (maxSpecialFileSize, "header field too long").
        if (size > MAX_META_BYTES) {
          const what = typeChar === 'x' ? 'PAX header' : typeChar === 'g' ? 'global PAX header' : typeChar === 'L' ? 'GNU long name' : 'GNU long link name';
          throw new InvalidArgumentError(`tar ${what} of ${size} bytes: more than the ${MAX_META_BYTES} bytes a tar header field may have`, { field: 'archive' });
        }
        this.metaKind = typeChar === 'x' ? 'pax' : typeChar === 'g' ? 'global' : typeChar === 'L' ? 'longname' : 'longlink';
        this.metaChunks = [];
        this.remaining = size;
        this.padding = pad(size);
        this.state = 'meta';
        if (size === 0) this.endMeta();
        return;
    }
    this.startEntry(b, typeChar, size);
  }

  private startEntry(b: Buffer, typeChar: string, storedSize: number): void {
    const ustar = b.toString('latin1', 257, 262) === 'ustar' && b[262] === 0;
    let name = str(b, 0, 100);
    if (ustar && b[345] !== 0) name = `${str(b, 345, 155)}/${name}`;
    let linkname = str(b, 157, 100);
    const get = (k: string): string | undefined => {
      const v = this.pax?.get(k) ?? this.globalPax.get(k);
      return v === undefined ? undefined : v.toString('utf8');
    };
    if (this.longName !== null) name = this.longName;
    if (this.longLink !== null) linkname = this.longLink;
    const paxPath = get('path');
    if (paxPath !== undefined) name = paxPath;
    const paxLink = get('linkpath');
    if (paxLink !== undefined) linkname = paxLink;
    let mtimeNs = BigInt(num(b, 136, 12)) * 1_000_000_000n;
    const paxMtime = get('mtime');
    if (paxMtime !== undefined) mtimeNs = parsePaxTime(paxMtime, name);
    const uid = get('uid') !== undefined ? Number(get('uid')) : num(b, 108, 8);
    const gid = get('gid') !== undefined ? Number(get('gid')) : num(b, 116, 8);
    if (get('size') !== undefined) storedSize = Number(get('size'));
    let xattrs = NO_XATTRS;
    if (this.pax !== null || this.globalPax.size > 0) {
      const found = new Map<string, Buffer>();
      for (const m of [this.globalPax, this.pax ?? NO_XATTRS]) {
        for (const [k, v] of m) if (k.startsWith('SCHILY.xattr.')) found.set(k.slice(13), v);
      }
      xattrs = found;
    }

    let type: TarEntryType;
    switch (typeChar) {
      case '0': case '7': case 'S': type = 'file'; break;
      case '1': type = 'hardlink'; break;
      case '2': type = 'symlink'; break;
      case '3': type = 'char'; break;
      case '4': type = 'block'; break;
      case '5': type = 'dir'; break;
      case '6': type = 'fifo'; break;
      default:
        throw new InvalidArgumentError(`tar entry "${name}" has type '${typeChar}', which a layer cannot contain (only files, dirs, links, devices and fifos)`, { field: name });
    }
    if (type === 'file' && name.endsWith('/') && typeChar === '0') type = 'dir';

    let size = type === 'file' ? storedSize : 0;
    let sparse: SparseSegment[] | null = null;
    let pendingExt = false;
    let pendingMap = false;
    if (typeChar === 'S') {
      // Old GNU sparse: 4 map entries in the header, more in extension blocks.
      sparse = [];
      for (let i = 0; i < 4; i++) {
        const off = 386 + i * 24;
        if (b[off] === 0) break;
        sparse.push({ offset: num(b, off, 12), length: num(b, off + 12, 12) });
      }
      size = num(b, 483, 12);
      pendingExt = b[482] !== 0;
    } else if (get('GNU.sparse.major') === '1' && get('GNU.sparse.minor') === '0') {
      const sname = get('GNU.sparse.name');
      if (sname !== undefined) name = sname;
      size = Number(get('GNU.sparse.realsize') ?? '0');
      sparse = [];
      pendingMap = true;
    } else if (get('GNU.sparse.map') !== undefined) {
      const sname = get('GNU.sparse.name');
      if (sname !== undefined) name = sname;
      size = Number(get('GNU.sparse.size') ?? get('GNU.sparse.realsize') ?? '0');
      const nums = (get('GNU.sparse.map') ?? '').split(',').filter(Boolean).map(Number);
      sparse = [];
      for (let i = 0; i + 1 < nums.length; i += 2) sparse.push({ offset: nums[i]!, length: nums[i + 1]! });
    }

    this.pax = null;
    this.longName = null;
    this.longLink = null;
    this.current = {
      name, type, mode: num(b, 100, 8) & 0o7777, uid, gid, size, mtimeNs, linkname,
      devMajor: type === 'char' || type === 'block' ? num(b, 329, 8) : 0,
      devMinor: type === 'char' || type === 'block' ? num(b, 337, 8) : 0,
      xattrs, sparse,
    };
    // Data of non-file entries (hardlinks may carry some in PAX) is skipped.
    this.remaining = storedSize;
    this.padding = pad(storedSize);
    this.filePos = 0;
    this.segs = sparse;
    this.segIdx = -1;
    this.segLeft = 0;
    if (pendingExt) { this.state = 'gnuext'; return; }
    if (pendingMap) { this.state = 'sparsemap'; this.sparseMapText = ''; this.sparseMapNeeded = 0; return; }
    this.begin();
  }

  private begin(): void {
    const h = this.current!;
    this.entries++;
    this.sink.onEntry(h);
    if (h.type !== 'file') {
      // Skip any body without handing it out.
      this.segs = null;
      if (this.remaining > 0) { this.skipping = true; this.state = 'data'; return; }
      this.finishEntry();
      return;
    }
    this.state = 'data';
    if (this.remaining === 0) this.finishEntry();
  }


  private onGnuExtBlock(b: Buffer): void {
    const segs = this.current!.sparse!;
    for (let i = 0; i < 21; i++) {
      const off = i * 24;
      if (b[off] === 0) break;
      segs.push({ offset: num(b, off, 12), length: num(b, off + 12, 12) });
    }
    if (b[504] === 0) this.begin();
  }

  private tryFinishSparseMap(): void {
    const lines = this.sparseMapText.split('\n');
    const count = Number(lines[0]);
    if (!Number.isFinite(count)) throw new InvalidArgumentError(`tar entry "${this.current!.name}": bad PAX sparse map`, { field: this.current!.name });
    if (lines.length - 1 < 1 + count * 2) {
      if (this.remaining === 0) throw new InvalidArgumentError(`tar entry "${this.current!.name}": truncated PAX sparse map`, { field: this.current!.name });
      return; // need another block of map text
    }
    const segs = this.current!.sparse!;
    for (let i = 0; i < count; i++) segs.push({ offset: Number(lines[1 + 2 * i]), length: Number(lines[2 + 2 * i]) });
    // The map occupies whole blocks; what we read so far is exactly those.
    this.begin();
  }

  private finishEntry(): void {
    const h = this.current;
    if (h) this.sink.onEntryEnd();
    this.skipping = false;
    this.current = null;
    this.state = 'header';
  }

  private endMeta(): void {
    const body = Buffer.concat(this.metaChunks);
    this.metaChunks = [];
    this.state = 'header';
    if (this.metaKind === 'longname' || this.metaKind === 'longlink') {
      const nul = body.indexOf(0);
      const text = body.toString('utf8', 0, nul < 0 ? body.length : nul);
      if (this.metaKind === 'longname') this.longName = text; else this.longLink = text;
      return;
    }
    const recs = parsePax(body);
    if (this.metaKind === 'global') {
      for (const [k, v] of recs) this.globalPax.set(k, v);
    } else {
      this.pax = recs;
    }
  }
}

function pad(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

const ZERO = Buffer.alloc(BLOCK);
function isZero(b: Buffer): boolean {
  return b.equals(ZERO);
}

function verifyChecksum(b: Buffer): void {
  let unsigned = 8 * 32; // the checksum field counts as spaces
  let high = 0; // bytes > 127, for the signed variant some old tars use
  for (let i = 0; i < 148; i++) { const v = b[i]!; unsigned += v; if (v > 127) high++; }
  for (let i = 156; i < BLOCK; i++) { const v = b[i]!; unsigned += v; if (v > 127) high++; }
  const want = num(b, 148, 8);
  if (want !== unsigned && want !== unsigned - 256 * high) {
    throw new DataLossError('layer tar has a header with a bad checksum: the blob is corrupt or not a tar (is it compressed with another media type?)');
  }
}

/** A numeric header field: octal text, or GNU base-256 when the top bit is set. */
function num(b: Buffer, off: number, len: number): number {
  const first = b[off]!;
  if (first & 0x80) {
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  let v = 0;
  let i = off;
  const end = off + len;
  while (i < end && b[i] === 0x20) i++;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw new DataLossError('layer tar has a malformed numeric header field: the blob is corrupt');
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function str(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** PAX extended header records: "<len> <key>=<value>\n", value kept as bytes. */
export function parsePax(body: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < body.length) {
    const sp = body.indexOf(0x20, pos);
    if (sp < 0) break;
    const recLen = Number(body.toString('latin1', pos, sp));
    if (!Number.isInteger(recLen) || recLen <= 0 || pos + recLen > body.length) {
      if (body[pos] === 0) break;
      throw new DataLossError('layer tar has a malformed PAX header record: the blob is corrupt');
    }
    const rec = body.subarray(sp + 1, pos + recLen - 1);
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    pos += recLen;
  }
  return out;
}

function parsePaxTime(s: string, name: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s.trim());
  if (!m) throw new InvalidArgumentError(`tar entry "${name}" has a malformed PAX mtime "${s}"`, { field: name });
  const frac = ((m[3] ?? '') + '000000000').slice(0, 9);
  const v = BigInt(m[2]!) * 1_000_000_000n + BigInt(frac);
  return m[1] ? -v : v;
}
