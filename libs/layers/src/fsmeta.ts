// Reading and copying the metadata a layer carries: owner, mode (with
// setuid/setgid/sticky), nanosecond mtime, xattrs. Shared by the unpacker
// (implicit parent dirs take their lower's metadata, as overlayfs copy-up
// does), the copy driver (full copies), the differ and the tree comparison.
import { chmodSync, lchownSync, type BigIntStats } from 'node:fs';
import { llistxattr, lgetxattr, lsetxattr, lutimens } from '@berth/sys';

/** overlayfs's private xattrs: storage detail of the overlay driver, never layer content. */
export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';
export const OVERLAY_OPAQUE = 'trusted.overlay.opaque';

/** Xattrs of `path` that belong to the layer content (overlay's own are left out). */
export function contentXattrs(path: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of llistxattr(path)) {
    if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
    const v = lgetxattr(path, name);
    if (v !== null) out.set(name, v);
  }
  return out;
}

/** Sets each xattr on `path`; user.* on a symlink is refused by the kernel and skipped. */
export function setXattrs(path: string, xattrs: ReadonlyMap<string, Buffer>, isSymlink: boolean): void {
  for (const [k, v] of xattrs) {
    if (isSymlink && k.startsWith('user.')) continue;
    lsetxattr(path, k, v);
  }
}

/**
 * Makes `dst` carry `st`'s owner, mode, xattrs and times (not following a
 * symlink). Order matters: chown clears setuid/setgid, so chmod comes after,
 * and times come last because setting xattrs changes ctime only.
 */
export function copyMetadata(src: string, dst: string, st: BigIntStats): void {
  const isLink = st.isSymbolicLink();
  lchownSync(dst, Number(st.uid), Number(st.gid));
  if (!isLink) chmodSync(dst, Number(st.mode) & 0o7777);
  setXattrs(dst, contentXattrs(src), isLink);
  lutimens(dst, st.atimeNs, st.mtimeNs);
}
