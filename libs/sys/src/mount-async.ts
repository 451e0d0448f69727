// umount2(2) and mount(2) on a libuv worker thread. Unmounting waits in the kernel for an
// RCU grace period (namespace_unlock -> synchronize_rcu), a few ms each, and
// overlay's superblock teardown on top: measured as the largest event-loop
// stall when many containers are removed at once (the services share one
// Node process in the default layout). Several of these in flight also share
// their grace periods.
import { libc } from './libc';
import { mount, umount } from './mount';
import { asyncSlots } from './async-slots';

const umount2_ = libc.func('int umount2(const char *target, int flags)');
const mount_ = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');

/** Calls of this kind in flight at once (async-slots.ts). */
const slot = asyncSlots(8);

/**
 * umount2(2) off the event loop; the same typed errors as umount(). On
 * failure the call is repeated synchronously to read its errno (koffi's
 * errno is the calling thread's; the repeat fails the same way at once, or
 * succeeds when the mount went away meanwhile, which is what was asked).
 */
export function umountAsync(target: string, flags = 0): Promise<void> {
  return slot(() => new Promise((resolve, reject) => {
    umount2_.async(target, flags, (err: unknown, ret: number) => {
      if (err) { reject(err); return; }
      if (ret >= 0) { resolve(); return; }
      try {
        umount(target, flags);
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  }));
}

/**
 * mount(2) off the event loop, the same typed errors as mount(). A bind
 * mount waits for the mount lock while another mount or unmount holds it
 * (namespace teardown, overlay roots): 17-56 ms on berthd's event loop under
 * the eventloop bench. On failure the call is repeated synchronously to read
 * its errno, as umountAsync does: it fails the same way at once, or mounts
 * (what was asked).
 */
export function mountAsync(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): Promise<void> {
  return slot(() => new Promise((resolve, reject) => {
    mount_.async(source, target, fstype, flags, data, (err: unknown, ret: number) => {
      if (err) { reject(err); return; }
      if (ret >= 0) { resolve(); return; }
      try {
        mount(source, target, fstype, flags, data);
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  }));
}
