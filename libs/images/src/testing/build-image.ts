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

/**
 * Builds `layout:tag` from directories, one gzip layer per directory made
 * with GNU tar (properly padded and terminated, unlike umoci 0.4's layers),
 * plus an OCI config and manifest. For benchmarks and tests that need
 * ordinary tars.
 */
export async function buildImageFromDirs(layout: string, tag: string, layerDirs: string[], cmd: string[] = ['sh']): Promise<void> {
  const { gzipSync } = await import('node:zlib');
  const blobs = join(layout, 'blobs', 'sha256');
  await fs.mkdir(blobs, { recursive: true });
  const put = async (data: Buffer) => {
    const hex = createHash('sha256').update(data).digest('hex');
    await fs.writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
  const diffIds: string[] = [];
  for (const dir of layerDirs) {
    const { stdout } = await run('tar', ['-c', '-f', '-', '--numeric-owner', '--sort=name', '-C', dir, '.'], { encoding: 'buffer', maxBuffer: 1 << 30 });
    const tar = stdout as unknown as Buffer;
    diffIds.push(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(gzipSync(tar))) });
  }
  const config = {
    architecture: 'amd64', os: 'linux', config: { Cmd: cmd },
    rootfs: { type: 'layers', diff_ids: diffIds }, history: layerDirs.map(() => ({ created_by: 'buildImageFromDirs' })),
  };
  const cfg = await put(Buffer.from(JSON.stringify(config)));
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg }, layers };
  const man = await put(Buffer.from(JSON.stringify(manifest)));
  await fs.writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await fs.writeFile(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...man, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
}
