// v1 blkio statistics: parsing and the choice of source (throttle files first,
// then CFQ's, then BFQ's), on a temp directory shaped like a blkio cgroup.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlkioRecursive, readBlkioV1 } from './blkio';

const dirs: string[] = [];
function cgroup(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-blkio-'));
  dirs.push(d);
  for (const [f, t] of Object.entries(files)) writeFileSync(join(d, f), t);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const ZERO = 'Total 0\n';
const THROTTLE_BYTES = '254:0 Read 8388608\n254:0 Write 16785408\n254:0 Sync 25174016\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 25174016\n8:0 Read 0\n8:0 Write 4096\n8:0 Total 4096\nTotal 25178112\n';
const THROTTLE_OPS = '254:0 Read 16\n254:0 Write 13\n254:0 Total 29\n8:0 Write 1\nTotal 30\n';

describe('v1 blkio statistics', () => {
  it('parses the *_recursive format (what this 6.18 kernel prints) into per-device read/write', () => {
    const m = parseBlkioRecursive(THROTTLE_BYTES);
    expect(m.get('254:0')).toEqual({ read: 8388608, write: 16785408 });
    expect(m.get('8:0')).toEqual({ read: 0, write: 4096 });
    expect(m.size).toBe(2);
  });

  it('uses the throttle files when they counted something', () => {
    const d = cgroup({
      'blkio.throttle.io_service_bytes_recursive': THROTTLE_BYTES,
      'blkio.throttle.io_serviced_recursive': THROTTLE_OPS,
      'blkio.bfq.io_service_bytes_recursive': '254:0 Read 1\n',
      'blkio.bfq.io_serviced_recursive': '254:0 Read 1\n',
    });
    expect(readBlkioV1(d)).toEqual([
      { major: 254, minor: 0, readBytes: 8388608, writeBytes: 16785408, reads: 16, writes: 13 },
      { major: 8, minor: 0, readBytes: 0, writeBytes: 4096, reads: 0, writes: 1 },
    ]);
  });

  it('falls back to CFQ and then BFQ statistics when the throttle files are all zero', () => {
    const cfq = cgroup({
      'blkio.throttle.io_service_bytes_recursive': ZERO,
      'blkio.throttle.io_serviced_recursive': ZERO,
      'blkio.io_service_bytes_recursive': '8:0 Read 512\n8:0 Write 1024\nTotal 1536\n',
      'blkio.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\n',
    });
    expect(readBlkioV1(cfq)).toEqual([{ major: 8, minor: 0, readBytes: 512, writeBytes: 1024, reads: 1, writes: 2 }]);
    const missing = new Set<string>();
    const bfq = cgroup({
      'blkio.throttle.io_service_bytes_recursive': ZERO,
      'blkio.throttle.io_serviced_recursive': ZERO,
      'blkio.bfq.io_service_bytes_recursive': '8:16 Write 4096\n',
      'blkio.bfq.io_serviced_recursive': '8:16 Write 1\n',
    });
    expect(readBlkioV1(bfq, missing)).toEqual([{ major: 8, minor: 16, readBytes: 0, writeBytes: 4096, reads: 0, writes: 1 }]);
    // The CFQ files are remembered as missing for the next read.
    expect(missing.has('blkio.io_service_bytes_recursive')).toBe(true);
  });

  it('reports nothing for a cgroup that did no I/O', () => {
    expect(readBlkioV1(cgroup({ 'blkio.throttle.io_service_bytes_recursive': ZERO, 'blkio.throttle.io_serviced_recursive': ZERO }))).toEqual([]);
  });
});
