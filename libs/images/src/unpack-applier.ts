// A LayerApplier that unpacks layers into plain directory trees with GNU tar,
// applying OCI whiteouts (image-spec layer.md): `.wh.<name>` deletes <name>
// from lower layers, `.wh..wh..opq` hides a directory's lower contents.
//
// It keeps one merged tree per layer stack, at <root>/<chainId hex>. Applying
// a layer on chain P extracts it into a staging directory (tar -x in C, fed
// while the DiffID is computed), verifies the DiffID, merges it into P's tree
// with renames and moves that tree to the new chain's name. So a layer that
// fails verification leaves every tree untouched, and stacking costs no
// copies; the price is that P itself is no longer a standalone tree, so a
// second, different child of P is refused (the layers service's snapshots do
// not have that limit). Used by tests and the benchmark.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { DataLossError, FailedPreconditionError, InternalError, NotFoundError } from '@berth/errors';
import { HashingStream, decompressLayer } from './compression.js';
import { chainIds, digestHex } from './digest.js';
import type { ApplyLayerOptions, LayerApplier } from './layer-applier.js';

const WHITEOUT = '.wh.';

/**
 * Appends zero blocks after a layer. Some writers (umoci 0.4) end layers
 * without padding the last file to 512 bytes and without the two zero blocks
 * that end a tar; Go's archive/tar accepts that, GNU tar calls it an
 * unexpected EOF. Extra zeros after a proper end are ignored.
 */
class TarPadding extends Transform {
  constructor() {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    cb(null, Buffer.alloc(3 * 512));
  }
}

/**
 * Writes into tar's stdin; once tar has stopped reading (it exits at the
 * end-of-archive marker) the rest is drained so the DiffID still covers every byte.
 */
function forwardTo(dest: NodeJS.WritableStream & { destroyed?: boolean; on(ev: 'error', l: (e: Error) => void): unknown }): Writable {
  let closed = false;
  dest.on('error', () => {
    closed = true;
  });
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      if (closed || dest.destroyed) return cb();
      const ok = dest.write(chunk);
      if (ok) cb();
      else {
        const done = () => {
          dest.removeListener('drain', done);
          dest.removeListener('close', done);
          cb();
        };
        dest.on('drain', done);
        (dest as unknown as Writable).on('close', done);
      }
    },
    final(cb) {
      if (!closed && !dest.destroyed) dest.end();
      cb();
    },
  });
}
const OPAQUE = '.wh..wh..opq';

export class UnpackLayerApplier implements LayerApplier {
  /** Every chain applied, each mapped to the top chain whose tree contains it. */
  private readonly chains = new Map<string, string>();
  /** DiffIDs in the order they were applied (what tests check arrived). */
  readonly diffIds: string[] = [];
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(readonly root: string) {}

  async hasLayer(chainId: string): Promise<boolean> {
    return this.chains.has(chainId);
  }

  /** The merged tree of a stack that is a current top; NotFound otherwise. */
  rootfsOf(chainId: string): string {
    if (this.chains.get(chainId) !== chainId) throw new NotFoundError(`no tree for layer chain ${chainId}`, { field: 'chainId' });
    return join(this.root, digestHex(chainId));
  }

  async applyLayer(stream: Readable, opts: ApplyLayerOptions): Promise<{ chainId: string }> {
    // Two pulls sharing layers apply the same chain: the second waits for the
    // first instead of unpacking it again (as the layers service does).
    // The waiting stream stays paused: if the first apply fails (its stream
    // broke), this one is applied from its own, unread, bytes.
    const want = opts.parentChainId === undefined ? opts.expectedDiffId : chainIds([opts.parentChainId, opts.expectedDiffId])[1]!;
    for (let pending = this.inflight.get(want); pending; pending = this.inflight.get(want)) await pending;
    if (this.chains.has(want)) {
      stream.destroy();
      return { chainId: want };
    }
    const run = this.applyNew(stream, opts);
    this.inflight.set(want, run.then(() => undefined, () => undefined));
    try {
      return await run;
    } finally {
      this.inflight.delete(want);
    }
  }

  private async applyNew(stream: Readable, opts: ApplyLayerOptions): Promise<{ chainId: string }> {
    const parent = opts.parentChainId;
    if (parent !== undefined && this.chains.get(parent) !== parent) {
      stream.destroy();
      throw new FailedPreconditionError(
        this.chains.has(parent)
          ? `layer chain ${parent} was already extended into ${this.chains.get(parent)}; this applier keeps one tree per stack`
          : `parent layer chain ${parent} has not been applied`,
        { field: 'parentChainId' },
      );
    }
    await fs.mkdir(this.root, { recursive: true });
    const staging = await fs.mkdtemp(join(this.root, '.staging-'));
    // mkdtemp makes 0700; a layer without a "./" entry must not make / private.
    await fs.chmod(staging, 0o755);
    try {
      const hasher = new HashingStream();
      const tar = spawn('tar', ['-x', '-f', '-', '-C', staging, '--numeric-owner', '--same-permissions', '--same-owner'], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number>((resolve, reject) => {
        tar.on('error', reject);
        tar.on('close', (code) => resolve(code ?? -1));
      });
      try {
        await pipeline(decompressLayer(stream, opts.mediaType), hasher, new TarPadding(), forwardTo(tar.stdin));
      } catch (e) {
        tar.kill();
        await exited.catch(() => undefined);
        throw e;
      }
      const code = await exited;
      const diffId = hasher.digest();
      if (diffId !== opts.expectedDiffId) {
        throw new DataLossError(`layer DiffID is ${diffId}, but the image config says ${opts.expectedDiffId}`, { field: 'diffId' });
      }
      if (code !== 0) throw new InternalError(`tar -x of layer ${diffId} failed (exit ${code}): ${stderr.trim()}`);
      const chainId = parent === undefined ? diffId : chainIds([parent, diffId])[1]!;
      const target = join(this.root, digestHex(chainId));
      if (this.chains.get(chainId) === chainId) return { chainId }; // applied meanwhile
      if (parent === undefined) {
        await fs.rename(staging, target);
      } else {
        const tree = join(this.root, digestHex(parent));
        await mergeLayer(staging, tree);
        await fs.rename(tree, target);
        for (const [c, top] of this.chains) if (top === parent) this.chains.set(c, chainId);
      }
      this.chains.set(chainId, chainId);
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
  // The layer's own entry for this directory ("./" or "dir/") sets its metadata.
  const st = await fs.lstat(src);
  await fs.chmod(dst, st.mode & 0o7777);
}
