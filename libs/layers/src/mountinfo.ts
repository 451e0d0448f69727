// /proc/self/mountinfo (proc(5)): which mount points exist under a directory.
// Used at start to find mounts a previous run of the store left behind.
import { readFileSync } from 'node:fs';

/** Mount points at or under `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const mp = f[4];
    if (mp === undefined) continue;
    // Octal escapes for space, tab, newline, backslash.
    const p = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(prefix)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}
