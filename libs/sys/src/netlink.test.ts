import { describe, expect, it } from 'vitest';
import { readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isNotFound } from '@berth/errors';
import { netlinkClose, netlinkSocketIn } from './netlink';

describe('netlinkSocketIn', () => {
  it('returns to the own namespace after making a socket in another', () => {
    const ns = `bt-sys-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const before = readlinkSync('/proc/thread-self/ns/net');
      const fd = netlinkSocketIn(`/run/netns/${ns}`);
      expect(fd).toBeGreaterThan(2);
      netlinkClose(fd);
      expect(readlinkSync('/proc/thread-self/ns/net')).toBe(before);
      let err: unknown;
      try { netlinkSocketIn(`/run/netns/${ns}-missing`); } catch (e) { err = e; }
      expect(isNotFound(err)).toBe(true);
      expect(readlinkSync('/proc/thread-self/ns/net')).toBe(before);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
