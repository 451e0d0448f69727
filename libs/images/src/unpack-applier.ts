// A LayerApplier that unpacks layers into one directory tree with GNU tar,
// applying OCI whiteouts (image-spec layer.md): `.wh.<name>` deletes <name>
// from lower layers, `.wh..wh..opq` hides a directory's lower contents.
//
// Each layer is extracted into a staging directory beside the rootfs (tar -x
// in C, fed while the DiffID is computed), then merged with renames, so a
// layer whose DiffID does not verify leaves the rootfs untouched. Used by
// tests and the benchmark; the layers service's snapshotters do this for real.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { DataLossError, FailedPreconditionError, InternalError } from '@berth/errors';
import { HashingStream, decompressLayer } from './compression.js';
import { chainIds } from './digest.js';
import type { ApplyLayerOptions, LayerApplier } from './layer-applier.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

export class UnpackLayerApplier implements LayerApplier {
  /** ChainIDs applied so far, bottom first. */
  readonly applied: string[] = [];
  /** DiffIDs applied so far, bottom first (what a test checks arrived). */
  readonly diffIds: string[] = [];

  constructor(readonly rootfs: string) {}

  async hasLayer(chainId: string): Promise<boolean> {
    return this.applied.includes(chainId);
  }

  async applyLayer(stream: Readable, opts: ApplyLayerOptions): Promise<{ chainId: string }> {
    const top = this.applied[this.applied.length - 1];
    if (opts.parentChainId !== top) {
      stream.destroy();
      throw new FailedPreconditionError(
        `${this.rootfs} holds layer chain ${top ?? '(empty)'}; cannot apply a layer whose parent is ${opts.parentChainId ?? '(none)'}`,
        { field: 'parentChainId' },
      );
    }
    await fs.mkdir(this.rootfs, { recursive: true });
    const staging = await fs.mkdtemp(join(dirname(this.rootfs), `.${basename(this.rootfs)}-layer-`));
    try {
      const hasher = new HashingStream();
      const tar = spawn('tar', ['-x', '-f', '-', '-C', staging, '--numeric-owner', '--same-permissions', '--same-owner', '--no-overwrite-dir'], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number>((resolve, reject) => {
        tar.on('error', reject);
        tar.on('close', (code) => resolve(code ?? -1));
      });
      await Promise.all([pipeline(decompressLayer(stream, opts.mediaType), hasher, tar.stdin), exited]).catch(async (e) => {
        tar.kill();
        throw e;
      });
      const code = await exited;
      const diffId = hasher.digest();
      if (diffId !== opts.expectedDiffId) {
        throw new DataLossError(`layer DiffID is ${diffId}, but the image config says ${opts.expectedDiffId}`, { field: 'diffId' });
      }
      if (code !== 0) throw new InternalError(`tar -x of layer ${diffId} failed (exit ${code}): ${stderr.trim()}`);
      await mergeLayer(staging, this.rootfs);
      const chainId = chainIds(top === undefined ? [diffId] : [top, diffId]).at(-1)!;
      this.applied.push(chainId);
      this.diffIds.push(diffId);
      return { chainId };
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }
}

/** Moves a staged layer into `dst`, honouring whiteouts. */
export async function mergeLayer(src: string, dst: string): Promise<void> {
  const entries = await fs.readdir(src, { withFileTypes: true });
  if (entries.some((e) => e.name === OPAQUE)) {
    for (const name of await fs.readdir(dst).catch(() => [] as string[])) await fs.rm(join(dst, name), { recursive: true, force: true });
  }
  for (const e of entries) {
    if (e.name === OPAQUE || !e.name.startsWith(WHITEOUT)) continue;
    await fs.rm(join(dst, e.name.slice(WHITEOUT.length)), { recursive: true, force: true });
  }
  for (const e of entries) {
    if (e.name.startsWith(WHITEOUT)) continue;
    const s = join(src, e.name);
    const d = join(dst, e.name);
    const dstStat = await fs.lstat(d).catch(() => undefined);
    if (e.isDirectory() && dstStat?.isDirectory()) {
      await mergeLayer(s, d);
      const st = await fs.lstat(s);
      await fs.chmod(d, st.mode & 0o7777);
      await fs.lchown(d, st.uid, st.gid);
      await fs.utimes(d, st.atime, st.mtime);
      continue;
    }
    if (dstStat) await fs.rm(d, { recursive: true, force: true });
    await fs.rename(s, d);
  }
}
