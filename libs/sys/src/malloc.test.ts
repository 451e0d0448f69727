import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { mallocTrim } from './malloc';

const rssAnonKiB = () => Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

describe('mallocTrim', () => {
  it('gives back freed memory glibc kept below live chunks', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // 48 MiB of 32 KiB blocks (under glibc's mmap threshold: heap chunks),
    // each followed by a small block that stays: free() cannot trim any of them.
    let big: Buffer[] | null = [];
    const kept: Buffer[] = [];
    for (let i = 0; i < 1536; i++) {
      big.push(Buffer.alloc(32 * 1024, 1));
      kept.push(Buffer.allocUnsafeSlow(64));
    }
    big = null;
    gc();
    gc();
    await new Promise((r) => setTimeout(r, 200)); // array buffers are swept off the main thread
    const before = rssAnonKiB();
    expect(mallocTrim()).toBe(true);
    const after = rssAnonKiB();
    expect(before - after).toBeGreaterThan(24 * 1024);
    expect(kept).toHaveLength(1536);
  });
});
