// overlay driver. Layout under the store root:
//   snapshots/<id>/fs     a committed layer's content (overlay format: whiteouts
//                         are char devices 0/0, opaque dirs carry
//                         trusted.overlay.opaque=y) or an active upper dir
//   snapshots/<id>/work   overlayfs workdir (active snapshots only)
//   l/<id>                symlink to ../snapshots/<id>/fs: the short name used
//                         in lowerdir (Docker overlay2's trick), so the option
//                         string for a 60+ layer image stays under a page
// Mount options, chosen deliberately (docs/design/layers.md):
//   index=off        no inode index: the same lower dirs are shared by many
//                    overlays at once and an index would tie a lower to one
//                    upper (EBUSY / ESTALE on remount elsewhere)
//   redirect_dir=off renaming a lower dir copies it up whole (EXDEV -> mv
//                    falls back to copy) instead of storing a redirect xattr,
//                    so the upper alone is a complete diff
//   metacopy=off     a chmod/chown copies the data too; with metacopy the
//                    upper would hold data-less files and diff would lose data
import { lstatSync, mkdirSync, rmSync, symlinkSync, unlinkSync, readdirSync, readlinkSync } from 'node:fs';
import { lgetxattr } from '@berth/sys';
import type { ApplyTarget, Change, Mount, SnapshotDriver, SnapshotKind, Usage } from '../driver';
import { snapshotDir } from '../driver';
import { upperChanges } from '../changes';
import { treeUsage } from '../usage';
import { OVERLAY_OPAQUE, copyMetadata } from '../fsmeta';

export const OVERLAY_OPTIONS = ['index=off', 'redirect_dir=off', 'metacopy=off'] as const;

export class OverlayDriver implements SnapshotDriver {
  readonly name = 'overlay' as const;
  private root = '';

  init(root: string): void {
    this.root = root;
    mkdirSync(`${root}/l`, { recursive: true });
  }

  private fs(id: string): string {
    return `${snapshotDir(this.root, id)}/fs`;
  }

  private link(id: string): string {
    return `${this.root}/l/${id}`;
  }

  prepare(dir: string, kind: 'active' | 'view', parents: string[]): void {
    this.makeUpper(`${dir}/fs`, parents);
    if (kind === 'active') mkdirSync(`${dir}/work`, 0o700);
  }

  /**
   * overlayfs shows the upper dir's own owner, mode and times for the root
   * of the merged tree, so a new upper starts as a copy of the parent's root
   * (each layer's root carries the merged root's metadata: an invariant).
   */
  private makeUpper(fs: string, parents: string[]): void {
    mkdirSync(fs, 0o755);
    const top = parents[0];
    if (top !== undefined) copyMetadata(this.fs(top), fs, lstatSync(this.fs(top), { bigint: true }));
  }

  applyTarget(dir: string, parents: string[]): ApplyTarget {
    this.makeUpper(`${dir}/fs`, parents);
    const lowers = parents.map((p) => this.fs(p));
    return { root: `${dir}/fs`, whiteouts: 'overlay', lower: (rel) => lookupLower(lowers, rel) };
  }

  published(id: string): void {
    try { unlinkSync(this.link(id)); } catch { /* not there */ }
    symlinkSync(`../snapshots/${id}/fs`, this.link(id));
  }

  mounts(id: string, kind: SnapshotKind, parents: string[]): Mount[] {
    if (kind === 'committed' || kind === 'view') {
      // Read-only: a committed layer shows the whole tree it ends (itself on
      // its parents), a view shows its parent chain.
      const chain = kind === 'committed' ? [id, ...parents] : parents;
      if (chain.length === 0) return [{ type: 'bind', source: this.fs(id), options: ['ro', 'rbind'] }];
      // A single overlay-format layer may hold opaque xattrs but never
      // whiteouts that matter (nothing below), so a bind shows it exactly.
      if (chain.length === 1) return [{ type: 'bind', source: this.fs(chain[0]!), options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: ['ro', ...OVERLAY_OPTIONS, `lowerdir=${chain.map((p) => this.link(p)).join(':')}`] }];
    }
    if (parents.length === 0) return [{ type: 'bind', source: this.fs(id), options: ['rw', 'rbind'] }];
    return [{
      type: 'overlay',
      source: 'overlay',
      options: [
        ...OVERLAY_OPTIONS,
        `workdir=${snapshotDir(this.root, id)}/work`,
        `upperdir=${this.fs(id)}`,
        `lowerdir=${parents.map((p) => this.link(p)).join(':')}`,
      ],
    }];
  }

  commit(id: string): void {
    rmSync(`${snapshotDir(this.root, id)}/work`, { recursive: true, force: true });
  }

  removed(id: string): void {
    try { unlinkSync(this.link(id)); } catch { /* already gone */ }
  }

  changes(id: string, parents: string[]): Iterable<Change> {
    return upperChanges(this.fs(id), parents[0] === undefined ? null : this.fs(parents[0]));
  }

  usage(id: string): Usage {
    return treeUsage(this.fs(id));
  }

  recover(ids: string[]): void {
    const want = new Set(ids);
    for (const name of readdirSync(`${this.root}/l`)) {
      if (!want.has(name)) unlinkSync(this.link(name));
    }
    for (const id of ids) {
      let ok = false;
      try { ok = readlinkSync(this.link(id)) === `../snapshots/${id}/fs`; } catch { /* missing */ }
      if (!ok) this.published(id);
    }
  }
}

/**
 * Resolves `rel` through overlay-format layers (nearest first) the way
 * overlayfs would: a whiteout or a non-dir ancestor hides everything below,
 * an opaque ancestor stops the search at that layer.
 */
export function lookupLower(lowers: string[], rel: string): string | null {
  const comps = rel.split('/');
  for (const layer of lowers) {
    let p = layer;
    let stop = false;
    for (let i = 0; i < comps.length; i++) {
      p = `${p}/${comps[i]!}`;
      const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
      if (!st) break;
      if (st.isCharacterDevice() && st.rdev === 0n) return null;
      if (i === comps.length - 1) return p;
      if (!st.isDirectory()) return null;
      if (lgetxattr(p, OVERLAY_OPAQUE)?.toString() === 'y') stop = true;
    }
    if (stop) return null;
  }
  return null;
}
