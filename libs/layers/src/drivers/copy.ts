// copy driver (containerd's "native"): every snapshot directory is a whole
// tree. An active snapshot starts as a copy of its parent (reflinks where the
// filesystem clones, plain copies elsewhere), a layer is unpacked onto a copy
// of its parent with whiteouts applied as deletions, a view binds its parent
// read-only. It works on any filesystem, including overlayfs itself (which
// cannot host an overlay upper), at the price of time and space per snapshot.
// Layout: snapshots/<id>/fs.
import { mkdirSync } from 'node:fs';
import type { ApplyTarget, Change, Mount, SnapshotDriver, SnapshotKind, Usage } from '../driver';
import { snapshotDir } from '../driver';
import { copyTree } from '../copytree';
import { treeChanges } from '../changes';
import { treeUsage } from '../usage';

export class CopyDriver implements SnapshotDriver {
  readonly name = 'copy' as const;
  private root = '';

  init(root: string): void {
    this.root = root;
  }

  private fs(id: string): string {
    return `${snapshotDir(this.root, id)}/fs`;
  }

  prepare(dir: string, kind: 'active' | 'view', parents: string[]): void {
    const parent = parents[0];
    if (kind === 'active' && parent !== undefined) copyTree(this.fs(parent), `${dir}/fs`);
    else mkdirSync(`${dir}/fs`, 0o755);
  }

  applyTarget(dir: string, parents: string[]): ApplyTarget {
    const parent = parents[0];
    if (parent !== undefined) copyTree(this.fs(parent), `${dir}/fs`);
    else mkdirSync(`${dir}/fs`, 0o755);
    return { root: `${dir}/fs`, whiteouts: 'delete' };
  }

  published(_id: string): void {}

  mounts(id: string, kind: SnapshotKind, parents: string[]): Mount[] {
    if (kind === 'view' && parents[0] !== undefined) return [{ type: 'bind', source: this.fs(parents[0]), options: ['ro', 'rbind'] }];
    return [{ type: 'bind', source: this.fs(id), options: [kind === 'active' ? 'rw' : 'ro', 'rbind'] }];
  }

  commit(_id: string): void {}

  removed(_id: string): void {}

  changes(id: string, parents: string[]): Iterable<Change> {
    return treeChanges(this.fs(id), parents[0] === undefined ? null : this.fs(parents[0]));
  }

  usage(id: string): Usage {
    return treeUsage(this.fs(id));
  }

  recover(_ids: string[]): void {}
}
