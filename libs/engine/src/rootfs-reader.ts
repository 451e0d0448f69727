// Reading files such as /etc/passwd and /etc/group out of a container's root
// (user resolution at start and exec). Whatever the image or the running
// container put at that path, the read is @berth/sys's bounded container
// read: resolved in the root by the kernel (openat2 RESOLVE_IN_ROOT: an
// image shipping /etc/passwd -> ../../../../etc/passwd gets its own missing
// file, not the host's), refused unless it is a regular file (a FIFO there
// used to block `berth exec` and hang `berth start` for good, holding a libuv
// pool thread of the one berthd), capped in size and in time, off the event
// loop.
import { readContainerFile } from '@berth/sys';
import type { RootfsReader } from './ports';

/** Largest file read for user resolution: passwd/group files of real images are a few KiB. */
export const ROOTFS_READ_MAX_BYTES = 4 * 1024 * 1024;

/** The default reader: the bounded in-root read; null when the file is missing. */
export const fsRootfsReader: RootfsReader = {
  async readFile(rootfs, path) {
    const b = await readContainerFile(rootfs, path, { maxBytes: ROOTFS_READ_MAX_BYTES, name: `${path} in the container` });
    return b === null ? null : b.toString('utf8');
  },
};
