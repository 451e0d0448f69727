// Full copies of a tree with every bit of metadata a layer carries: used by
// the copy driver to make an active snapshot from its parent. Regular files
// go through fs.copyFileSync with COPYFILE_FICLONE, which libuv implements
// as ioctl(FICLONE) (a reflink: instant, shared extents) and falls back to
// copy_file_range/sendfile where the filesystem cannot clone (ext4), so no
// separate FICLONE binding is needed. Hardlinks stay hardlinks, holes are
// kept by the kernel's copy_file_range on filesystems that support it.
import { copyFileSync, constants as C, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, linkSync, type BigIntStats } from 'node:fs';
import { mknod, S_IF, devMajor, devMinor } from '@berth/sys';
import { copyMetadata } from './fsmeta';

/** Copies the contents of `src` into the existing or new directory `dst`, metadata included. */
export function copyTree(src: string, dst: string): void {
  const links = new Map<string, string>();
  const dirs: Array<[string, string, BigIntStats]> = [];
  const rootSt = lstatSync(src, { bigint: true });
  mkdirSync(dst, { recursive: true });
  dirs.push([src, dst, rootSt]);
  copyDir(src, dst, links, dirs);
  // Directory times last: creating children changed them.
  for (let i = dirs.length - 1; i >= 0; i--) {
    const [s, d, st] = dirs[i]!;
    copyMetadata(s, d, st);
  }
}

function copyDir(src: string, dst: string, links: Map<string, string>, dirs: Array<[string, string, BigIntStats]>): void {
  for (const name of readdirSync(src)) {
    const s = `${src}/${name}`;
    const d = `${dst}/${name}`;
    const st = lstatSync(s, { bigint: true });
    if (st.isDirectory()) {
      mkdirSync(d, 0o700);
      dirs.push([s, d, st]);
      copyDir(s, d, links, dirs);
      continue;
    }
    if (st.nlink > 1n) {
      const k = `${st.dev}:${st.ino}`;
      const first = links.get(k);
      if (first !== undefined) { linkSync(first, d); continue; }
      links.set(k, d);
    }
    if (st.isFile()) {
      copyFileSync(s, d, C.COPYFILE_FICLONE);
    } else if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(s), d);
    } else {
      const t = st.isCharacterDevice() ? S_IF.CHR : st.isBlockDevice() ? S_IF.BLK : st.isFIFO() ? S_IF.FIFO : S_IF.SOCK;
      mknod(d, t | 0o600, devMajor(st.rdev), devMinor(st.rdev));
    }
    copyMetadata(s, d, st);
  }
}
