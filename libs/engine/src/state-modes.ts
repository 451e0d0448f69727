// Who may reach the engine's state: root only. <root>/engine, containers/,
// containers/<id>/, volumes/ and volumes/<name>/ are 0700, engine.db and its
// -wal/-shm 0600 (db.ts); a volume's _data keeps the mode its container set.
// A state dir an older berth made (0755 volumes, 0644 engine.db) is tightened
// when the engine starts.
//
// The exception is a `--userns auto` container: its shim binds the hosts,
// resolv.conf and hostname files and its volumes as the container's root,
// host id <range start>, which must be able to search every directory on
// those paths. Each such dir gets a traversal grant (`group:<gid>:--x`, mode
// 0710, @berth/sys posix-acl.ts) for the root gid of every container that
// needs it, as Docker's userns-remap makes its dirs root:<remapped gid> 0710:
//   BERTH_ROOT, <root>/engine, containers/, volumes/   every userns container
//   containers/<id>/                                   that container
//   volumes/<name>/                                    the userns containers using it
// The grants are recomputed from the records (syncUsernsTraversal) when the
// engine starts and after a userns container is created or removed, so a
// removed container's range leaves no grant behind. The layers service grants
// the same on its own layers/ and layers/mounts/ (libs/layers store.ts).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { closeDir, hasTraverseGroups, setTraverseGroups } from '@berth/sys';
import type { IdMapping } from './types';

/** A --userns auto container as the grants need it. */
export interface UsernsHolder {
  id: string;
  idMapping: IdMapping;
  /** Names of the volumes it uses. */
  volumes: string[];
}

/** The host gid of a mapping's container root (gid 0 inside). */
export function rootGidOf(m: IdMapping): number | undefined {
  return m.gidMappings.find((r) => r.containerId === 0)?.hostId;
}

function children(dir: string): string[] {
  try {
    return readdirSync(dir).map((n) => join(dir, n));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** 0700 (0710 with grants) on the engine's dirs, for a state dir an older berth left open. */
export function closeEngineState(stateDir: string): void {
  for (const sub of ['containers', 'volumes']) {
    const d = join(stateDir, sub);
    if (!existsSync(d)) continue;
    closeDir(d);
    for (const c of children(d)) closeDir(c);
  }
}

/**
 * Sets every traversal grant of the engine's dirs to what `holders` need
 * (see the header), removing grants no container needs any more. `stateRoot`
 * is BERTH_ROOT (left alone when undefined: a test's state dir may sit in
 * /tmp).
 */
export function syncUsernsTraversal(stateDir: string, stateRoot: string | undefined, holders: UsernsHolder[]): void {
  const all: number[] = [];
  const byContainer = new Map<string, number>();
  const byVolume = new Map<string, number[]>();
  for (const h of holders) {
    const gid = rootGidOf(h.idMapping);
    if (gid === undefined) continue;
    all.push(gid);
    byContainer.set(h.id, gid);
    for (const v of h.volumes) byVolume.set(v, [...(byVolume.get(v) ?? []), gid]);
  }
  const set = (dir: string, gids: number[]) => {
    if (!existsSync(dir)) return;
    // Skip the write when nothing changes: most calls change one dir or none.
    // (The check includes the mode: a service starting meanwhile may have
    // chmodded a dir, which cuts the grants off through the ACL mask.)
    if (hasTraverseGroups(dir, gids)) return;
    setTraverseGroups(dir, gids);
  };
  if (stateRoot) set(stateRoot, all);
  set(stateDir, all);
  set(join(stateDir, 'containers'), all);
  set(join(stateDir, 'volumes'), all);
  for (const c of children(join(stateDir, 'containers'))) {
    const gid = byContainer.get(c.slice(c.lastIndexOf('/') + 1));
    set(c, gid === undefined ? [] : [gid]);
  }
  for (const v of children(join(stateDir, 'volumes'))) set(v, byVolume.get(v.slice(v.lastIndexOf('/') + 1)) ?? []);
}
