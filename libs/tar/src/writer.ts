// Tar encoding for layer diffs: ustar headers with PAX records where ustar
// cannot say it (names/link targets over 100 bytes, large ids and sizes,
// sub-second mtimes, SCHILY.xattr.* for xattrs such as security.capability).
// uname/gname are left empty and atime/ctime are never written, so the same
// tree always encodes to the same bytes (and so the same DiffID).
import type { TarEntryType } from './reader';

export interface TarWriteHeader {
  /** Relative path without a leading "/" or "./"; dirs get a trailing "/" here. */
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (files only). */
  size: number;
  mtimeNs: bigint;
  linkname?: string;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Map<string, Buffer>;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarEntryType, number> = { file: 0x30, hardlink: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36 };
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** Header block(s) for one entry: a PAX 'x' header and its records when needed, then the ustar header. */
export function encodeHeader(h: TarWriteHeader): Buffer {
  let name = h.name;
  if (h.type === 'dir' && !name.endsWith('/')) name += '/';
  const pax: Array<[string, Buffer]> = [];
  const nameBytes = Buffer.byteLength(name);
  if (nameBytes > 100) pax.push(['path', Buffer.from(name)]);
  const link = h.linkname ?? '';
  if (Buffer.byteLength(link) > 100) pax.push(['linkpath', Buffer.from(link)]);
  if (h.uid > MAX_OCTAL_7) pax.push(['uid', Buffer.from(String(h.uid))]);
  if (h.gid > MAX_OCTAL_7) pax.push(['gid', Buffer.from(String(h.gid))]);
  if (h.size > MAX_OCTAL_11) pax.push(['size', Buffer.from(String(h.size))]);
  let sec = h.mtimeNs / 1_000_000_000n;
  let nsec = h.mtimeNs % 1_000_000_000n;
  if (nsec < 0n) { nsec += 1_000_000_000n; sec -= 1n; }
  if (nsec !== 0n || sec < 0n) pax.push(['mtime', Buffer.from(`${sec}.${nsec.toString().padStart(9, '0')}`)]);
  if (h.xattrs) {
    for (const k of [...h.xattrs.keys()].sort()) pax.push([`SCHILY.xattr.${k}`, h.xattrs.get(k)!]);
  }
  const ustar = ustarBlock({
    name: truncateUtf8(name, 100), mode: h.mode, uid: Math.min(h.uid, MAX_OCTAL_7), gid: Math.min(h.gid, MAX_OCTAL_7),
    size: Math.min(h.size, MAX_OCTAL_11), mtime: Number(sec < 0n ? 0n : sec), typeflag: TYPEFLAG[h.type],
    linkname: truncateUtf8(link, 100), devMajor: h.devMajor ?? 0, devMinor: h.devMinor ?? 0,
  });
  if (pax.length === 0) return ustar;
  const body = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const paxHeader = ustarBlock({
    name: truncateUtf8(`PaxHeaders/${name}`, 100), mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0,
    typeflag: 0x78, linkname: '', devMajor: 0, devMinor: 0,
  });
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), ustar]);
}

/** Zero bytes that pad `size` bytes of data to a block boundary. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

function paxRecord(key: string, value: Buffer): Buffer {
  // "<len> <key>=<value>\n" where len counts itself.
  const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

interface Ustar {
  name: string; mode: number; uid: number; gid: number; size: number; mtime: number; typeflag: number;
  linkname: string; devMajor: number; devMinor: number;
}

function ustarBlock(u: Ustar): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(u.name, 0, 100, 'utf8');
  octal(b, 100, 8, u.mode & 0o7777);
  octal(b, 108, 8, u.uid);
  octal(b, 116, 8, u.gid);
  octal(b, 124, 12, u.size);
  octal(b, 136, 12, u.mtime);
  b.fill(0x20, 148, 156);
  b[156] = u.typeflag;
  b.write(u.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'latin1');
  octal(b, 329, 8, u.devMajor);
  octal(b, 337, 8, u.devMinor);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  octal(b, 148, 8, sum);
  return b;
}

function octal(b: Buffer, off: number, len: number, v: number): void {
  b.write(v.toString(8).padStart(len - 1, '0'), off, len - 1, 'latin1');
  b[off + len - 1] = 0;
}

function truncateUtf8(s: string, max: number): string {
  const buf = Buffer.from(s);
  if (buf.length <= max) return s;
  let end = max;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}
