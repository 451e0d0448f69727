// @berth/sys: koffi bindings to the libc calls berth's services make, with
// errno mapped to typed errors (@berth/errors). Only what is used; one file
// per concern. Drivers call the kernel through this lib, never koffi directly.
export { libc, koffi, check, errnoName, lastErrno, errorFromErrno } from './libc';
export { mount, umount, MS, MNT, UMOUNT_NOFOLLOW } from './mount';
export { eventfd, readEventfd, writeEventfd, closeFd, epollCreate, epollAdd, epollMod, epollDel, epollWait, EFD, EPOLL, type EpollReady } from './eventfd';
export { lgetxattr, llistxattr, lsetxattr, fsetxattr, lremovexattr, XATTR } from './xattr';
export { mknod, makedev, devMajor, devMinor, S_IF } from './mknod';
export { lutimens, futimens, UTIME_OMIT } from './utimens';
export { renameat2, RENAME } from './rename';
export { pidfdOpen, pidfdSendSignal, signalNumber, signalName, PIDFD } from './pidfd';
export { netlinkSocket, netlinkSocketIn, netlinkSend, netlinkRecv, netlinkSendAsync, netlinkRecvAsync, netlinkClose, NETLINK } from './netlink';
export { setChildSubreaper, waitpidNoHang, type WaitStatus } from './reaper';
export { mountFs, MOUNT_ATTR, type FsParam } from './fsmount';
export { idmappedMount, userNamespaceFd, closeUserNamespaceFd, type IdRange } from './idmap';
export { umountAsync, mountAsync } from './mount-async';
export { openat2, RESOLVE, O_PATH } from './openat2';
export { spawnHelper, type SpawnedHelper } from './spawn';
export { traverseGroups, hasTraverseGroups, setTraverseGroups, grantTraverse, revokeTraverse, closeDir } from './posix-acl';
export { loadDeviceProgram, attachDeviceProgram, detachDeviceProgram, queryDevicePrograms, deviceProgramFdById, replaceDevicePrograms, BPF_F, BPF_CGROUP_DEVICE } from './bpf';
export { openContainerFile, readContainerChunk, readContainerFile, CONTAINER_READ_TIMEOUT_MS, type ContainerFile, type ContainerFileOptions } from './container-file';
export { mallocTrim } from './malloc';
