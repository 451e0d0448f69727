// docker export on the engine's side (Engine.Export): the container's root
// filesystem as the layers service mounted it (image layers plus the
// writable layer), archived whole with @berth/tar's packTree. The writable
// root is read, not the container's mount namespace, so volumes, bind
// mounts, tmpfs and the hosts/resolv.conf/hostname files are not in the
// archive, as in Docker. Paths are resolved inside the root (RootView), file
// reads are bounded and off the event loop (packTree); a running container
// is not paused (Docker does not pause it either).
import { FailedPreconditionError } from '@berth/errors';
import { packTree, RootView } from '@berth/tar';
import type { ContainerRecord } from './types';

/** The tar of `c`'s whole root ("./", "./bin", ...), end-of-archive included. `c.rootfs` must be mounted. */
export function exportRoot(c: ContainerRecord): AsyncGenerator<Buffer> {
  if (!c.rootfs) throw new FailedPreconditionError(`container ${c.name} has no root filesystem yet`, { field: 'id' });
  return packTree(new RootView(c.rootfs), '/', '.');
}
