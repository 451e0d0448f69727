// Applies the Mounts a driver returns, through @berth/sys mount(2) (never
// mount(8)): "bind"/"rbind" as MS_BIND(|MS_REC) then a read-only remount
// when "ro" is asked for (a bind mount ignores MS_RDONLY on the first call);
// "overlay" with every non-flag option joined into the data string. When
// that string does not fit mount(2)'s one page (very many layers), the new
// mount API takes the options one by one, each lower as "lowerdir+".
import { mount, umount, mountFs, MOUNT_ATTR, MS, MNT, type FsParam } from '@berth/sys';
import type { Mount } from './driver';

// mount(2) copies at most one page of option data, NUL included.
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
  const opts = m.options.filter((o) => o !== 'ro' && o !== 'rw');
  const data = opts.join(',');
  if (Buffer.byteLength(data) < PAGE) {
    mount(m.source, target, m.type, ro ? MS.RDONLY : 0, data);
    return;
  }
  const params: FsParam[] = [];
  for (const o of opts) {
    const eq = o.indexOf('=');
    if (eq < 0) { params.push({ key: o }); continue; }
    const key = o.slice(0, eq);
    const value = o.slice(eq + 1);
    if (key === 'lowerdir') for (const l of value.split(':')) params.push({ key: 'lowerdir+', value: l });
    else params.push({ key, value });
  }
  mountFs(m.type, m.source, params, target, ro ? MOUNT_ATTR.RDONLY : 0);
}
