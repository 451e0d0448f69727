// Applies the Mounts a driver returns, through @berth/sys mount(2) (never
// mount(8)): "bind"/"rbind" as MS_BIND(|MS_REC) then a read-only remount
// when "ro" is asked for (a bind mount ignores MS_RDONLY on the first call);
// "overlay" with every non-flag option joined into the data string.
import { mount, umount, MS, MNT } from '@berth/sys';
import { ResourceExhaustedError } from '@berth/errors';
import type { Mount } from './driver';

const PAGE = 4096;

export function applyMount(m: Mount, target: string): void {
  const ro = m.options.includes('ro');
  if (m.type === 'bind') {
    const flags = MS.BIND | (m.options.includes('rbind') ? MS.REC : 0);
    mount(m.source, target, null, flags);
    if (ro) {
      try {
        mount(null, target, null, MS.BIND | MS.REMOUNT | MS.RDONLY);
      } catch (e) {
        umount(target, MNT.DETACH);
        throw e;
      }
    }
    return;
  }
  const data = m.options.filter((o) => o !== 'ro' && o !== 'rw').join(',');
  if (data.length >= PAGE) {
    throw new ResourceExhaustedError(`overlay mount options are ${data.length} bytes, over the ${PAGE - 1}-byte limit of mount(2); the image has too many layers for this store root (use a shorter root path)`);
  }
  mount(m.source, target, m.type, ro ? MS.RDONLY : 0, data);
}
