// Netlink sockets and setns(2), for talking rtnetlink to the kernel without
// spawning ip(8). A netlink socket belongs to the network namespace its
// creating thread was in when socket(2) ran, for its whole life; that is how
// netlinkSocketIn() gets a socket inside a container's namespace: switch the
// calling thread in, create the socket, switch back, all synchronously, so no
// other JavaScript runs on this thread while it is in the other namespace.
import { openSync, closeSync } from 'node:fs';
import { fromNodeError } from '@berth/errors';
import { libc, check } from './libc';

const socket_ = libc.func('int socket(int domain, int type, int protocol)');
const send_ = libc.func('long send(int fd, const void *buf, size_t len, int flags)');
const recv_ = libc.func('long recv(int fd, void *buf, size_t len, int flags)');
const setns_ = libc.func('int setns(int fd, int nstype)');
const close_ = libc.func('int close(int fd)');

export const NETLINK = { ROUTE: 0 } as const;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;

/** socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, protocol) in the caller's namespace. */
export function netlinkSocket(protocol: number = NETLINK.ROUTE): number {
  return check(socket_(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol), 'open netlink socket');
}

/**
 * A netlink socket inside the network namespace at `nsPath` (an nsfs file
 * such as /run/netns/x or /proc/<pid>/ns/net). The calling thread returns to
 * its own namespace before this returns, also on error.
 */
export function netlinkSocketIn(nsPath: string, protocol: number = NETLINK.ROUTE): number {
  const self = openSync('/proc/thread-self/ns/net', 'r');
  let target: number | undefined;
  try {
    try {
      target = openSync(nsPath, 'r');
    } catch (e) {
      throw fromNodeError(e, `open network namespace ${nsPath}`);
    }
    check(setns_(target, CLONE_NEWNET), 'enter network namespace', nsPath);
    try {
      return netlinkSocket(protocol);
    } finally {
      // Must not fail silently: a thread left in the container's namespace
      // would put every later socket of this process there.
      check(setns_(self, CLONE_NEWNET), 'return to own network namespace', 'the thread stays in the other namespace: exit the process');
    }
  } finally {
    if (target !== undefined) closeSync(target);
    closeSync(self);
  }
}

export function netlinkSend(fd: number, msg: Buffer): void {
  const n = Number(check(send_(fd, msg, msg.length, 0), 'send netlink message'));
  if (n !== msg.length) throw new Error(`netlink send wrote ${n} of ${msg.length} bytes`);
}

/** One recv(2) into a fresh buffer; returns the bytes received. */
export function netlinkRecv(fd: number, size = 65536): Buffer {
  const buf = Buffer.alloc(size);
  const n = Number(check(recv_(fd, buf, size, 0), 'receive netlink message'));
  return buf.subarray(0, n);
}

/**
 * send(2) on a libuv worker thread (koffi async): rtnetlink runs a request
 * inside the sender's send call, and some (deleting a veth waits for RCU
 * grace periods, ~10-20 ms) would otherwise stall the event loop.
 */
export function netlinkSendAsync(fd: number, msg: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    send_.async(fd, msg, msg.length, 0, (err: unknown, n: number) => {
      if (err) reject(err);
      else if (Number(n) !== msg.length) reject(new Error(`netlink send failed (returned ${n}) on fd ${fd}`));
      else resolve();
    });
  });
}

/** recv(2) on a libuv worker thread; see netlinkSendAsync. */
export function netlinkRecvAsync(fd: number, size = 65536): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  return new Promise((resolve, reject) => {
    recv_.async(fd, buf, size, 0, (err: unknown, n: number) => {
      if (err) reject(err);
      else if (Number(n) < 0) reject(new Error(`netlink recv failed on fd ${fd}`));
      else resolve(buf.subarray(0, Number(n)));
    });
  });
}

export function netlinkClose(fd: number): void {
  close_(fd);
}
