// Mounting a snapshot for a container in its own user namespace
// (`--userns auto`) without chowning a single layer: every layer directory is
// seen through an idmapped mount (@berth/sys idmappedMount) carrying the
// container's mapping, and the overlay is built on those. Layers stay
// unshifted on disk, so one stored image serves every range (containerd's
// idmapped snapshots, Podman's idmapped lower layers).
//
// What the kernel requires, found out on 6.x (docs/design/layers.md):
//  - overlayfs accepts idmapped lower, upper and work layers (5.19+), and
//    takes private clones of them at mount time: the helper mounts can be
//    detached as soon as the overlay is up, so only the overlay stays mounted.
//  - the upper and work dirs must be idmapped too, or files the container's
//    root creates land in the upper as its *host* id and commit/diff would
//    record shifted owners. Through an idmapped upper they are stored as 0.
//  - overlayfs writes its own files (work/work, whiteouts, copy-up temps)
//    with the *mounter's* credentials, host root. Host uid 0 must therefore
//    be mapped by the upper's namespace, or the overlay falls back to
//    read-only (EOVERFLOW on work/work). The upper gets one extra entry:
//    on-disk id N -> host 0, N the first container id past the mapping
//    (65536 for a 64 Ki range). Whiteouts and files the host's root writes
//    into the container root are stored with owner N; lowers do not get the
//    entry (an image file owned by N must not show as host root).
import { mkdirSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';
import { idmappedMount, userNamespaceFd, closeUserNamespaceFd, umount, MNT, type IdRange } from '@berth/sys';
import type { Mount } from './driver';
import { applyMount } from './mounter';

/** A container's id mapping (container id -> host id ranges). */
export interface IdMapping {
  uidMappings: IdRange[];
  gidMappings: IdRange[];
}

/** The first container id past every range (the on-disk id host root writes as). */
function pastEnd(field: string, ranges: IdRange[]): number {
  const end = Math.max(...ranges.map((r) => r.containerId + r.size));
  if (end > 0xfffffffe) throw new InvalidArgumentError(`${field} reaches the last id; leave room for one id past the range`, { field });
  return end;
}

/** The ranges plus on-disk `past` -> host 0, unless host 0 is mapped already. */
function withHostRoot(ranges: IdRange[], past: number): IdRange[] {
  if (ranges.some((r) => r.hostId === 0)) return ranges;
  return [...ranges, { containerId: past, hostId: 0, size: 1 }];
}

/** Checks a mapping: non-empty, ranges that overlap neither inside nor outside. */
export function validateIdMapping(m: IdMapping): void {
  for (const [field, ranges] of [['uid_mappings', m.uidMappings], ['gid_mappings', m.gidMappings]] as const) {
    if (ranges.length === 0) throw new InvalidArgumentError(`${field} is empty: an id-mapped mount needs both uid and gid mappings`, { field });
    ranges.forEach((r, i) => {
      if (r.size < 1) throw new InvalidArgumentError(`${field}[${i}].size must be at least 1`, { field: `${field}[${i}].size` });
      if (r.containerId + r.size > 2 ** 32 || r.hostId + r.size > 2 ** 32) throw new InvalidArgumentError(`${field}[${i}] runs past the 32-bit id space`, { field: `${field}[${i}]` });
      for (let j = 0; j < i; j++) {
        const o = ranges[j]!;
        const overlaps = (a: number, b: number): boolean => a < b + o.size && b < a + r.size;
        if (overlaps(r.containerId, o.containerId) || overlaps(r.hostId, o.hostId)) {
          throw new InvalidArgumentError(`${field}[${i}] overlaps ${field}[${j}]`, { field: `${field}[${i}]` });
        }
      }
    });
  }
}

/**
 * Applies a driver's mounts at `target` with every layer seen through the
 * mapping. `scratch` is a fresh directory under the store's tmp/ for the
 * helper mounts (a crash leaves them there: open() unmounts everything under
 * the root and clears tmp/). On failure nothing stays mounted.
 */
export async function applyIdmappedMounts(ms: Mount[], target: string, map: IdMapping, scratch: string): Promise<void> {
  validateIdMapping(map);
  // The two namespaces (each a short-lived process) are made side by side.
  const [lowerNs, upperNs] = await Promise.allSettled([
    userNamespaceFd(map.uidMappings, map.gidMappings),
    userNamespaceFd(
      withHostRoot(map.uidMappings, pastEnd('uid_mappings', map.uidMappings)),
      withHostRoot(map.gidMappings, pastEnd('gid_mappings', map.gidMappings)),
    ),
  ]);
  if (lowerNs.status === 'rejected' || upperNs.status === 'rejected') {
    if (lowerNs.status === 'fulfilled') closeUserNamespaceFd(lowerNs.value);
    if (upperNs.status === 'fulfilled') closeUserNamespaceFd(upperNs.value);
    throw (lowerNs.status === 'rejected' ? lowerNs.reason : (upperNs as PromiseRejectedResult).reason) as Error;
  }
  const lowerFd = lowerNs.value;
  const upperFd = upperNs.value;
  const helpers: string[] = [];
  let mounted = false;
  const helper = (source: string, fd: number, readonly: boolean): string => {
    const at = `${scratch}/${helpers.length}`;
    mkdirSync(at, { recursive: true });
    idmappedMount(source, at, fd, readonly);
    helpers.push(at);
    return at;
  };
  try {
    for (const m of ms) {
      const ro = m.options.includes('ro');
      if (m.type === 'bind') {
        // A single layer or an active root on nothing: the idmapped clone is
        // the root itself (moved to the target, no overlay to hold it).
        idmappedMount(m.source, target, ro ? lowerFd : upperFd, ro);
        mounted = true;
        continue;
      }
      if (m.type !== 'overlay') throw new InvalidArgumentError(`cannot id-map a "${m.type}" mount`, { field: 'uid_mappings' });
      const upper = m.options.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
      const work = m.options.find((o) => o.startsWith('workdir='))?.slice('workdir='.length);
      // upper and work share one idmapped mount (overlayfs wants them on the
      // same mount): their parent, the snapshot's directory.
      let upperAt: string | null = null;
      if (upper !== undefined && work !== undefined) {
        if (dirname(upper) !== dirname(work)) throw new InvalidArgumentError(`upperdir ${upper} and workdir ${work} are not siblings`, { field: 'key' });
        upperAt = helper(dirname(upper), upperFd, false);
      }
      const options = m.options.map((o) => {
        if (o.startsWith('lowerdir=')) return `lowerdir=${o.slice('lowerdir='.length).split(':').map((l) => helper(l, lowerFd, true)).join(':')}`;
        if (upperAt !== null && upper !== undefined && o.startsWith('upperdir=')) return `upperdir=${upperAt}/${upper.slice(dirname(upper).length + 1)}`;
        if (upperAt !== null && work !== undefined && o.startsWith('workdir=')) return `workdir=${upperAt}/${work.slice(dirname(work).length + 1)}`;
        return o;
      });
      applyMount({ ...m, options }, target);
      mounted = true;
    }
  } catch (e) {
    if (mounted) { try { umount(target, MNT.DETACH); } catch { /* not mounted */ } }
    throw e;
  } finally {
    // The overlay holds private clones of its layers: the helpers can go.
    // Never a recursive rm here: a helper that failed to detach still shows a layer.
    for (const h of helpers.reverse()) {
      try { umount(h, MNT.DETACH); } catch { /* already gone */ }
      try { rmdirSync(h); } catch { /* still busy: open() clears tmp/ */ }
    }
    try { rmdirSync(scratch); } catch { /* not made, or not empty */ }
    closeUserNamespaceFd(lowerFd);
    closeUserNamespaceFd(upperFd);
  }
}
