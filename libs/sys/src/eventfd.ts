// eventfd(2) and the epoll(7) calls that wait on them. berth's cgroups service
// uses both for cgroup v1 OOM notification: the kernel signals an eventfd
// registered in cgroup.event_control when the memory cgroup hits OOM. One
// epoll set waits for many eventfds, so a single thread (a worker, never the
// Node event loop) can block in epoll_wait for every container at once.
import { libc, check, koffi } from './libc';

export const EFD = { CLOEXEC: 0o2000000, NONBLOCK: 0o4000, SEMAPHORE: 1 } as const;
export const EPOLL = { CLOEXEC: 0o2000000, CTL_ADD: 1, CTL_DEL: 2, CTL_MOD: 3, IN: 0x1, ERR: 0x8, HUP: 0x10, ONESHOT: 0x40000000 } as const;

const eventfd_ = libc.func('int eventfd(unsigned int initval, int flags)');
const read_ = libc.func('long read(int fd, _Out_ uint8_t *buf, unsigned long count)');
const write_ = libc.func('long write(int fd, const uint8_t *buf, unsigned long count)');
const close_ = libc.func('int close(int fd)');
const epollCreate1_ = libc.func('int epoll_create1(int flags)');

// struct epoll_event is packed on x86-64 (12 bytes) but naturally aligned on
// other architectures (16 bytes); the kernel ABI says so in eventpoll.h.
const packed = process.arch === 'x64';
const EpollEvent = packed
  ? koffi.pack('berth_epoll_event', { events: 'uint32_t', data: 'uint64_t' })
  : koffi.struct('berth_epoll_event', { events: 'uint32_t', data: 'uint64_t' });
const EVENT_SIZE = koffi.sizeof(EpollEvent);
const DATA_OFFSET = packed ? 4 : 8;
const epollCtl_ = libc.func('int epoll_ctl(int epfd, int op, int fd, berth_epoll_event *event)');
const epollWait_ = libc.func('int epoll_wait(int epfd, _Out_ uint8_t *events, int maxevents, int timeout)');

/** eventfd(2): a new eventfd; EFD.CLOEXEC | EFD.NONBLOCK unless told otherwise. */
export function eventfd(initval = 0, flags: number = EFD.CLOEXEC | EFD.NONBLOCK): number {
  return check(eventfd_(initval, flags) as number, 'create eventfd');
}

/**
 * Reads an eventfd's 8-byte counter (and resets it). Returns 0n when the fd is
 * non-blocking and nothing was signalled (EAGAIN), so callers can drain safely.
 */
export function readEventfd(fd: number): bigint {
  const buf = Buffer.alloc(8);
  const n = Number(read_(fd, buf, 8));
  if (n < 0) {
    const errno = koffi.errno();
    if (errno === 11 /* EAGAIN */) return 0n;
    check(-1, `read eventfd ${fd}`);
  }
  return buf.readBigUInt64LE(0);
}

/** Adds `value` to an eventfd's counter (wakes a waiter, e.g. to stop a loop). */
export function writeEventfd(fd: number, value: bigint = 1n): void {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(value, 0);
  check(Number(write_(fd, buf, 8)), `write eventfd ${fd}`);
}

/** close(2) for fds made here (eventfd, epoll). */
export function closeFd(fd: number): void {
  check(close_(fd) as number, `close fd ${fd}`);
}

/** epoll_create1(2) with EPOLL_CLOEXEC. */
export function epollCreate(): number {
  return check(epollCreate1_(EPOLL.CLOEXEC) as number, 'create epoll set');
}

/** Watches `fd` for readability; `data` comes back from epollWait (we pass the fd). */
export function epollAdd(epfd: number, fd: number, events: number = EPOLL.IN, data: number = fd): void {
  check(epollCtl_(epfd, EPOLL.CTL_ADD, fd, { events, data: BigInt(data) }) as number, `epoll add fd ${fd}`);
}

/** Changes the events watched for `fd`; with EPOLL.ONESHOT this re-arms it after it fired. */
export function epollMod(epfd: number, fd: number, events: number = EPOLL.IN, data: number = fd): void {
  check(epollCtl_(epfd, EPOLL.CTL_MOD, fd, { events, data: BigInt(data) }) as number, `epoll modify fd ${fd}`);
}

/** Stops watching `fd`. */
export function epollDel(epfd: number, fd: number): void {
  check(epollCtl_(epfd, EPOLL.CTL_DEL, fd, { events: 0, data: 0n }) as number, `epoll remove fd ${fd}`);
}

export interface EpollReady {
  /** The `data` given to epollAdd (by default the fd). */
  data: number;
  /** EPOLL.IN / ERR / HUP bits. */
  events: number;
}

/**
 * epoll_wait(2). Blocks the calling thread for up to `timeoutMs` (-1: forever),
 * so call it from a worker thread, never from Node's main event loop.
 * EINTR comes back as an empty list.
 */
export function epollWait(epfd: number, maxEvents = 64, timeoutMs = -1): EpollReady[] {
  const buf = Buffer.alloc(EVENT_SIZE * maxEvents);
  const n = epollWait_(epfd, buf, maxEvents, timeoutMs) as number;
  if (n < 0) {
    if (koffi.errno() === 4 /* EINTR */) return [];
    check(n, `epoll_wait on fd ${epfd}`);
  }
  const out: EpollReady[] = [];
  for (let i = 0; i < n; i++) {
    const base = i * EVENT_SIZE;
    out.push({ events: buf.readUInt32LE(base), data: Number(buf.readBigUInt64LE(base + DATA_OFFSET)) });
  }
  return out;
}
