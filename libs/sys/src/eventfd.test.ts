import { describe, it, expect } from 'vitest';
import { eventfd, readEventfd, writeEventfd, closeFd, epollCreate, epollAdd, epollMod, epollDel, epollWait, EPOLL } from './eventfd';

describe('eventfd and epoll', () => {
  it('counts writes, reads reset the counter, non-blocking read of nothing is 0', () => {
    const fd = eventfd();
    try {
      expect(readEventfd(fd)).toBe(0n);
      writeEventfd(fd, 2n);
      writeEventfd(fd, 3n);
      expect(readEventfd(fd)).toBe(5n);
      expect(readEventfd(fd)).toBe(0n);
    } finally {
      closeFd(fd);
    }
  });

  it('epoll reports exactly the signalled eventfd, with its data', () => {
    const ep = epollCreate();
    const a = eventfd();
    const b = eventfd();
    try {
      epollAdd(ep, a, undefined, 1001);
      epollAdd(ep, b, undefined, 1002);
      expect(epollWait(ep, 8, 0)).toEqual([]);
      writeEventfd(b);
      const ready = epollWait(ep, 8, 100);
      expect(ready.map((r) => r.data)).toEqual([1002]);
      readEventfd(b);
      epollDel(ep, b);
      writeEventfd(b);
      expect(epollWait(ep, 8, 0)).toEqual([]);
    } finally {
      closeFd(a);
      closeFd(b);
      closeFd(ep);
    }
  });

  it('a oneshot registration reports once until re-armed', () => {
    const ep = epollCreate();
    const fd = eventfd();
    try {
      epollAdd(ep, fd, EPOLL.IN | EPOLL.ONESHOT);
      writeEventfd(fd);
      expect(epollWait(ep, 8, 100).map((r) => r.data)).toEqual([fd]);
      // Still readable, but disarmed.
      expect(epollWait(ep, 8, 0)).toEqual([]);
      epollMod(ep, fd, EPOLL.IN | EPOLL.ONESHOT);
      expect(epollWait(ep, 8, 0).map((r) => r.data)).toEqual([fd]);
    } finally {
      closeFd(fd);
      closeFd(ep);
    }
  });
});
