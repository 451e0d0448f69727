// A tree's content as a comparable map: one line per path with type, mode,
// owner, mtime (ns), size, content hash, link target, device numbers, xattrs
// (overlayfs's own left out) and hardlink grouping. Two trees are "the same"
// for berth when these maps are equal; atime and ctime are not content.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { devMajor, devMinor } from '@berth/sys';
import { contentXattrs } from '../fsmeta';

export function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<bigint, string>();
  const walk = (rel: string) => {
    const p = rel === '' ? root : `${root}/${rel}`;
    const st = lstatSync(p, { bigint: true });
    const mode = (Number(st.mode) & 0o7777).toString(8);
    const parts = [`mode=${mode}`, `uid=${st.uid}`, `gid=${st.gid}`, `mtime=${st.mtimeNs}`];
    if (st.isDirectory()) parts.unshift('dir');
    else if (st.isFile()) {
      parts.unshift('file');
      parts.push(`size=${st.size}`, `sha=${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}`);
      if (st.nlink > 1n) {
        const first = inodes.get(st.ino);
        if (first === undefined) inodes.set(st.ino, rel);
        parts.push(`links=${st.nlink}`, `group=${first ?? rel}`);
      }
    } else if (st.isSymbolicLink()) { parts.unshift('symlink'); parts.push(`-> ${readlinkSync(p)}`); parts.splice(parts.indexOf(`mode=${mode}`), 1); }
    else if (st.isCharacterDevice()) parts.unshift(`char ${devMajor(st.rdev)}:${devMinor(st.rdev)}`);
    else if (st.isBlockDevice()) parts.unshift(`block ${devMajor(st.rdev)}:${devMinor(st.rdev)}`);
    else if (st.isFIFO()) parts.unshift('fifo');
    else parts.unshift('other');
    const x = contentXattrs(p);
    for (const k of [...x.keys()].sort()) parts.push(`xattr:${k}=${x.get(k)!.toString('hex')}`);
    out[rel === '' ? '.' : rel] = parts.join(' ');
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(rel === '' ? n : `${rel}/${n}`);
  };
  walk('');
  return out;
}
