// docker diff's classification (changes.ts): a layer tar as the layers
// service's Diff writes it, read for its paths and classified against an
// image root on disk, as Docker's overlay2 changes() does.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHeader, END_OF_ARCHIVE, padding } from '@berth/tar';
import { classifyChanges, layerPaths, lookupIn } from './changes';

type Entry = { name: string; type?: 'file' | 'dir'; data?: string; mode?: number; mtimeNs?: bigint };

async function* tarOf(entries: Entry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? 'file';
    yield encodeHeader({ name: e.name, type, mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644), uid: 0, gid: 0, size: type === 'file' ? data.length : 0, mtimeNs: e.mtimeNs ?? 0n });
    if (type === 'file' && data.length) {
      yield data;
      yield Buffer.alloc(padding(data.length));
    }
  }
  yield END_OF_ARCHIVE;
}

describe('docker diff classification', () => {
  let image: string;
  beforeEach(() => {
    image = mkdtempSync(join(tmpdir(), 'berth-changes-'));
    mkdirSync(join(image, 'etc'), { mode: 0o755 });
    writeFileSync(join(image, 'etc/passwd'), 'root\n');
    mkdirSync(join(image, 'bin'), { mode: 0o755 });
    writeFileSync(join(image, 'bin/ls'), 'x');
    mkdirSync(join(image, 'usr/lib'), { recursive: true, mode: 0o755 });
    // A merged-/usr style link: looked up inside the image, never on the host.
    symlinkSync('/usr/lib', join(image, 'lib'));
    utimesSync(join(image, 'etc'), 1000, 1000);
  });
  afterEach(() => rmSync(image, { recursive: true, force: true }));

  it('added, modified and deleted paths; a copied-up directory is listed only when its entries changed', async () => {
    const etcMtime = lstatSync(join(image, 'etc'), { bigint: true }).mtimeNs;
    const binMtime = lstatSync(join(image, 'bin'), { bigint: true }).mtimeNs;
    const paths = await layerPaths(tarOf([
      { name: './', type: 'dir' },
      { name: 'bin/', type: 'dir', mode: 0o755, mtimeNs: binMtime },
      { name: 'bin/.wh.ls' },
      // /etc copied up unchanged (same mode and mtime) because etc/passwd changed: not listed.
      { name: 'etc/', type: 'dir', mode: 0o755, mtimeNs: etcMtime },
      { name: 'etc/passwd', data: 'root\nmore\n' },
      { name: 'made/', type: 'dir' },
      { name: 'made/.wh..wh..opq' },
      { name: 'made/f', data: 'new' },
      { name: 'usr/', type: 'dir', mode: 0o700 },
    ]));
    expect(paths.map((p) => `${p.whiteout ? 'wh' : 'e'} ${p.path}`)).toEqual(['e /', 'e /bin', 'wh /bin/ls', 'e /etc', 'e /etc/passwd', 'e /made', 'e /made/f', 'e /usr']);
    const changes = classifyChanges(paths, lookupIn(image));
    expect(changes.map((c) => `${c.kind} ${c.path}`)).toEqual([
      'modified /bin', // its entry list changed, though its metadata did not
      'deleted /bin/ls',
      'modified /etc/passwd',
      'added /made',
      'added /made/f',
      'modified /usr', // mode changed
    ]);
  });

  it('a directory whose only change is a new child is listed once, before the child', async () => {
    const etcMtime = lstatSync(join(image, 'etc'), { bigint: true }).mtimeNs;
    const changes = classifyChanges(await layerPaths(tarOf([
      { name: 'etc/', type: 'dir', mtimeNs: etcMtime },
      { name: 'etc/a', data: '1' },
      { name: 'etc/b', data: '2' },
      { name: 'lib/', type: 'dir' },
      { name: 'lib/x', data: '3' },
    ])), lookupIn(image));
    // /lib is a symlink in the image: a directory replacing it is a modification, resolved inside the image.
    expect(changes.map((c) => `${c.kind} ${c.path}`)).toEqual(['modified /etc', 'added /etc/a', 'added /etc/b', 'modified /lib', 'added /lib/x']);
  });

  it("the runtime's mount points are not the container's changes (Docker's init layer); a volume's mount point is", async () => {
    const changes = classifyChanges(await layerPaths(tarOf([
      { name: 'etc/', type: 'dir', mtimeNs: 123n },
      { name: 'etc/hostname' },
      { name: 'etc/hosts' },
      { name: 'etc/resolv.conf' },
      { name: 'proc/', type: 'dir' },
      { name: 'vol/', type: 'dir' },
    ])), lookupIn(image));
    expect(changes.map((c) => `${c.kind} ${c.path}`)).toEqual(['added /vol']);
  });

  it('a container that wrote more paths than the bound is refused, not held in memory', async () => {
    await expect(layerPaths(tarOf([{ name: 'a' }, { name: 'b' }, { name: 'c' }]), 2)).rejects.toThrow(/more than 2 paths/);
  });
});
