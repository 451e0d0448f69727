// Idmapped roots (--userns auto): image files show as the container's host
// ids through the mount, files the container's root writes are stored
// unshifted (uid 0) in the snapshot, the diff records container ids, and
// unmounting leaves no mount behind. Real mounts, both drivers.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { isInvalidArgument } from '@berth/errors';
import { setTraverseGroups, traverseGroups } from '@berth/sys';
import type { DriverName } from './driver';
import { mountsUnder } from './mountinfo';
import { StoreFixture, applyAll } from './testing/suite';
import { layerTar } from './testing/tars';

// A host range no test machine's users own (docs/design/engine.md: the default pool).
const HOST = 0x7000_0000 + Math.floor(Math.random() * 4000) * 65536;
const MAP = { uidMappings: [{ containerId: 0, hostId: HOST, size: 65536 }], gidMappings: [{ containerId: 0, hostId: HOST, size: 65536 }] };

/**
 * Runs `script` with sh as host uid/gid HOST + `id` (container user `id` seen
 * from the host; without capabilities, so only owner permissions apply).
 */
/** Runs `script` as the container's id `id` on the host, in `cwd` (entered before the uid changes: the store is 0700). */
function asContainerUser(script: string, id = 0, cwd?: string): void {
  const r = spawnSync('/bin/sh', ['-c', script], { uid: HOST + id, gid: HOST + id, encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  if (r.status !== 0) throw new Error(`sh as ${HOST + id} failed (${r.status}): ${r.stderr}`);
}

async function tarOwners(blob: Buffer): Promise<Map<string, { uid: number; gid: number; type: string }>> {
  const tar = blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
  const out = new Map<string, { uid: number; gid: number; type: string }>();
  const ex = tarStream.extract();
  ex.on('entry', (h, stream, next) => { out.set(h.name.replace(/\/$/, ''), { uid: h.uid ?? -1, gid: h.gid ?? -1, type: h.type ?? '' }); stream.on('end', next); stream.resume(); });
  await new Promise<void>((resolve, reject) => { ex.on('finish', resolve); ex.on('error', reject); ex.end(tar); });
  return out;
}

for (const driver of ['overlay', 'copy'] as DriverName[]) {
  describe(`idmapped mount (${driver})`, () => {
    const fx = new StoreFixture();
    afterEach(() => fx.cleanup());

    it('shows image files as the mapped host ids, stores what the container root writes as uid 0, leaves no mount', async () => {
      const store = fx.open(driver);
      // The container's root (an unprivileged host uid) must reach the mount.
      chmodSync(fx.dir, 0o711);
      const chain = await applyAll(store, [
        layerTar([{ name: 'etc/' }, { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' }, { name: 'home/' }, { name: 'home/u/', uid: 1000, gid: 1000 }, { name: 'gone', content: 'x' }]),
        layerTar([{ name: 'srv/' }, { name: 'srv/data', content: 'd', uid: 33, gid: 33 }]),
      ]);
      const before = new Set(readdirSync(`${store.root}/snapshots`));
      store.prepare('c', chain[chain.length - 1]);
      const id = readdirSync(`${store.root}/snapshots`).find((d) => !before.has(d))!;
      const t = await store.mountIdmapped('c', MAP);
      expect(lstatSync(`${t}/etc/passwd`).uid).toBe(HOST);
      expect(lstatSync(`${t}/home/u`).uid).toBe(HOST + 1000);
      expect(lstatSync(`${t}/srv/data`).gid).toBe(HOST + 33);
      // The container's root (host HOST) writes, creates, deletes, chowns.
      // Its shim reaches the root by path, through the store's 0700 dirs (a traversal grant).
      asContainerUser(`cat ${t}/etc/passwd >/dev/null`);
      // A root still mounted from an earlier run, its grant gone (dirs an older berth made 0711, now 0700):
      // the next Mount of it grants again.
      setTraverseGroups(store.root, []);
      expect(() => asContainerUser(`cat ${t}/etc/passwd >/dev/null`)).toThrow();
      store.grantTraversal('c', MAP);
      asContainerUser(`cat ${t}/etc/passwd >/dev/null`);
      asContainerUser('set -e; echo new > made; echo more >> etc/passwd; rm gone', 0, t);
      asContainerUser('mkdir home/u/dir', 1000, t);
      expect(lstatSync(`${t}/made`).uid).toBe(HOST);
      // Only the target is mounted: the helper idmapped mounts were detached.
      expect(mountsUnder(store.root)).toEqual([t]);
      store.unmount('c');
      expect(mountsUnder(store.root)).toEqual([]);
      expect(readdirSync(`${store.root}/tmp`)).toEqual([]);
      // On disk the snapshot holds container ids, not host ids.
      const fs = `${store.root}/snapshots/${id}/fs`;
      expect(lstatSync(`${fs}/made`).uid).toBe(0);
      expect(lstatSync(`${fs}/etc/passwd`).uid).toBe(0);
      expect(readFileSync(`${fs}/etc/passwd`, 'utf8')).toContain('more');
      expect(lstatSync(`${fs}/home/u/dir`).uid).toBe(1000);
      // The diff records container ids, as a commit of a non-mapped container would.
      const d = store.diff('c');
      const chunks: Buffer[] = [];
      for await (const c of d.stream) chunks.push(c as Buffer);
      await d.done;
      const owners = await tarOwners(Buffer.concat(chunks));
      expect(owners.get('made')).toMatchObject({ uid: 0, gid: 0 });
      expect(owners.get('etc/passwd')).toMatchObject({ uid: 0, gid: 0 });
      expect(owners.get('home/u/dir')).toMatchObject({ uid: 1000, gid: 1000 });
      expect(owners.has('.wh.gone')).toBe(true);
      // The layers themselves were never chowned.
      store.prepare('d', chain[chain.length - 1]);
      const plain = store.mount('d');
      try { expect(lstatSync(`${plain}/etc/passwd`).uid).toBe(0); } finally { store.unmount('d'); }
    });

    it('maps an active root on nothing (a single bind) the same way', async () => {
      const store = fx.open(driver);
      chmodSync(fx.dir, 0o711);
      store.prepare('empty', null);
      const t = await store.mountIdmapped('empty', MAP);
      try {
        expect(lstatSync(t).uid).toBe(HOST);
        asContainerUser(`echo x > ${t}/f`);
        expect(traverseGroups(store.root)).toContain(HOST);
      } finally {
        store.unmount('empty');
      }
      expect(mountsUnder(store.root)).toEqual([]);
      expect(traverseGroups(store.root)).toEqual([]); // unmount took the grant back
      const dirs = readdirSync(`${store.root}/snapshots`);
      expect(dirs.some((d) => { try { return lstatSync(`${store.root}/snapshots/${d}/fs/f`).uid === 0; } catch { return false; } })).toBe(true);
    });

    it('refuses an empty or overlapping mapping, naming the field, and mounts nothing', async () => {
      const store = fx.open(driver);
      store.prepare('c', null);
      const cases: Array<[typeof MAP, string]> = [
        [{ uidMappings: [], gidMappings: MAP.gidMappings }, 'uid_mappings'],
        [{ uidMappings: MAP.uidMappings, gidMappings: [{ containerId: 0, hostId: HOST, size: 10 }, { containerId: 5, hostId: HOST + 100, size: 10 }] }, 'gid_mappings[1]'],
        [{ uidMappings: [{ containerId: 0, hostId: HOST, size: 0 }], gidMappings: MAP.gidMappings }, 'uid_mappings[0].size'],
      ];
      for (const [map, field] of cases) {
        const e = await store.mountIdmapped('c', map).catch((x: unknown) => x);
        expect(isInvalidArgument(e)).toBe(true);
        expect((e as { field?: string }).field).toBe(field);
      }
      expect(mountsUnder(store.root)).toEqual([]);
    });
  });
}
