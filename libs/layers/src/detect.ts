// Which driver a store root can use. Kept apart from the drivers (as youki
// keeps cgroup layout detection apart from its managers). Order: explicit
// option, then BERTH_SNAPSHOTTER, then a real test mount: an overlay with
// berth's options, two lowers and an upper in the store's own tmp dir,
// deleting a lower file must leave a 0/0 whiteout in the upper. That fails
// when the state dir is itself on overlayfs (no overlay upper on overlay),
// lacks trusted xattrs or d_type, or the kernel has no overlay: then "copy".
import { mkdirSync, writeFileSync, unlinkSync, lstatSync, rmSync, mkdtempSync } from 'node:fs';
import { InvalidArgumentError } from '@berth/errors';
import { mount, umount, MNT } from '@berth/sys';
import type { DriverName } from './driver';
import { OVERLAY_OPTIONS } from './drivers/overlay';

export interface Detection {
  driver: DriverName;
  /** Why this driver: "option", "env", "probe ok" or the probe's error. */
  reason: string;
}

export function chooseDriver(tmpDir: string, option?: DriverName, env = process.env['BERTH_SNAPSHOTTER']): Detection {
  if (option) return { driver: checkName(option, 'driver'), reason: 'option' };
  if (env) return { driver: checkName(env, 'BERTH_SNAPSHOTTER'), reason: 'env' };
  const err = probeOverlay(tmpDir);
  return err === null ? { driver: 'overlay', reason: 'probe ok' } : { driver: 'copy', reason: `overlay probe failed: ${err}` };
}

function checkName(name: string, field: string): DriverName {
  if (name === 'overlay' || name === 'copy') return name;
  throw new InvalidArgumentError(`${field} "${name}" is not a snapshot driver; use "overlay" or "copy"`, { field });
}

/** null when an overlay upper works in `tmpDir`, else the reason it does not. */
export function probeOverlay(tmpDir: string): string | null {
  mkdirSync(tmpDir, { recursive: true });
  const dir = mkdtempSync(`${tmpDir}/probe-`);
  let mounted = false;
  try {
    for (const d of ['l1', 'l2', 'upper', 'work', 'merged']) mkdirSync(`${dir}/${d}`);
    writeFileSync(`${dir}/l2/f`, 'x');
    mount('overlay', `${dir}/merged`, 'overlay', 0,
      [...OVERLAY_OPTIONS, `lowerdir=${dir}/l1:${dir}/l2`, `upperdir=${dir}/upper`, `workdir=${dir}/work`].join(','));
    mounted = true;
    unlinkSync(`${dir}/merged/f`);
    const st = lstatSync(`${dir}/upper/f`);
    if (!st.isCharacterDevice() || st.rdev !== 0) return 'deleting a lower file did not leave a whiteout in the upper';
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    if (mounted) umount(`${dir}/merged`, MNT.DETACH);
    rmSync(dir, { recursive: true, force: true });
  }
}
