// Disk usage of one directory tree, as `du` counts it: allocated blocks,
// each inode once (hardlinks are not double counted).
import { lstatSync, readdirSync } from 'node:fs';
import type { Usage } from './driver';

export function treeUsage(dir: string): Usage {
  const seen = new Set<bigint>();
  let size = 0;
  let inodes = 0;
  const walk = (p: string) => {
    const st = lstatSync(p, { bigint: true });
    if (st.nlink > 1n && !st.isDirectory()) {
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
    }
    inodes++;
    size += Number(st.blocks) * 512;
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(`${p}/${n}`);
  };
  walk(dir);
  return { size, inodes };
}
