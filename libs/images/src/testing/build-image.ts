// Test and benchmark support: builds multi-layer OCI images with umoci (an
// independent implementation, so berth is checked against someone else's
// idea of the format), and describes directory trees for comparison.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './registry.js';

export interface LayerSpec {
  /** Files to add: path inside the image -> content. */
  files?: Record<string, Buffer | string>;
  /** Paths to delete (whiteouts). */
  whiteouts?: string[];
}

/**
 * Builds `layout:tag` (an OCI layout directory) with one umoci layer per
 * file or whiteout of each spec entry, then sets Cmd.
 */
export async function buildImage(layout: string, tag: string, layers: LayerSpec[], work: string): Promise<void> {
  await run('umoci', ['init', '--layout', layout]).catch(() => undefined);
  await run('umoci', ['new', '--image', `${layout}:${tag}`]);
  let n = 0;
  for (const spec of layers) {
    for (const [p, content] of Object.entries(spec.files ?? {})) {
      const src = join(work, `src-${n++}`);
      await fs.writeFile(src, content);
      await run('umoci', ['insert', '--image', `${layout}:${tag}`, src, p]);
    }
    for (const w of spec.whiteouts ?? []) await run('umoci', ['insert', '--image', `${layout}:${tag}`, '--whiteout', w]);
  }
  await run('umoci', ['config', '--image', `${layout}:${tag}`, '--config.cmd', 'sh', '--architecture', 'amd64', '--os', 'linux']);
}

export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  /** sha256 of a file's content, a symlink's target. */
  content: string;
}

/** Every entry under `root` (not root itself), sorted, for comparing two unpacks. */
export async function describeTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (dir: string, rel: string) => {
    for (const name of (await fs.readdir(dir)).sort()) {
      const abs = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(abs);
      const base = { path: r, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        out.push({ ...base, type: 'dir', content: '' });
        await walk(abs, r);
      } else if (st.isSymbolicLink()) out.push({ ...base, type: 'symlink', content: await fs.readlink(abs) });
      else if (st.isFile()) out.push({ ...base, type: 'file', content: createHash('sha256').update(await fs.readFile(abs)).digest('hex') });
      else out.push({ ...base, type: 'other', content: '' });
    }
  };
  await walk(root, '');
  return out;
}
