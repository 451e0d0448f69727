// `--userns auto`: each container gets its own range of host ids, and its
// root is the first id of that range on the host ("root inside a container
// must be able to be non-root outside"). Podman's --userns=auto, with the
// layers service's idmapped mounts instead of chowned layers
// (docs/design/engine.md, "User namespaces").
//
// The pool: the /etc/subuid and /etc/subgid entries of the user "berth", else
// of "containers" (Podman's), else DEFAULT_POOL. Each container takes one slot
// of RANGE_SIZE ids from the uid pool and the slot with the same index from
// the gid pool. A slot is held from create until the container record is
// deleted (remove): it is recorded in the record (persisted, so an engine
// restart sees it) and a new allocation skips every slot a record holds.
// Allocation reads the records and inserts the new one with no await in
// between, so two creates in this engine cannot pick the same slot.
import { chownSync, readFileSync } from 'node:fs';
import { InvalidArgumentError, ResourceExhaustedError } from '@berth/errors';
import type { IdMapping, IdRange } from './types';

/**
 * Ids per container: every 16-bit id, so any image's file owners and users
 * are mapped (Podman's upper bound for auto; berth does not scan the image to
 * pick a smaller size). Container ids past it show as nobody.
 */
export const RANGE_SIZE = 65536;

/**
 * The pool when /etc/subuid and /etc/subgid name neither "berth" nor
 * "containers": host ids 0x70000000 (1879048192) up to 0x7FFE0000
 * (2147352576), 4094 ranges of 64 Ki. Above every range ids are handed out
 * from elsewhere: login.defs' UID_MAX (60000) and SUB_UID_MAX (600100000),
 * systemd-nspawn's --private-users=pick range (524288-1879048191); below
 * systemd's "foreign" range (0x7FFE0000-0x7FFEFFFF) and 2^31, which tools
 * holding ids in a signed 32-bit int reject (Node's child_process uid option
 * is one).
 */
export const DEFAULT_POOL: IdRange = { containerId: 0, hostId: 0x7000_0000, size: 0x7ffe_0000 - 0x7000_0000 };

/** Where a pool came from, for errors and docs. */
export interface IdPool {
  /** "berth" / "containers" (from /etc/subuid+subgid), or "default". */
  owner: string;
  /** Host id ranges (containerId unused), in file order. */
  uids: IdRange[];
  gids: IdRange[];
}

/** Parses /etc/subuid-format text: "name-or-uid:start:count" per line. */
export function parseSubIds(text: string, names: string[]): IdRange[] {
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const [who, start, count] = t.split(':');
    if (who === undefined || !names.includes(who)) continue;
    const s = Number(start);
    const n = Number(count);
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(n) || s < 0 || n <= 0 || s + n > 2 ** 32 - 1) continue;
    out.push({ containerId: 0, hostId: s, size: n });
  }
  return out;
}

/**
 * The pool: the first of "berth", "containers" having entries in both files
 * (by name, or by the user's uid when `uidOf` knows it), else DEFAULT_POOL.
 */
export function loadIdPool(files: { subuid?: string; subgid?: string; uidOf?: (name: string) => number | undefined } = {}): IdPool {
  const read = (p: string): string => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
  const subuid = read(files.subuid ?? '/etc/subuid');
  const subgid = read(files.subgid ?? '/etc/subgid');
  for (const owner of ['berth', 'containers']) {
    const uid = files.uidOf?.(owner);
    const names = uid === undefined ? [owner] : [owner, String(uid)];
    const uids = parseSubIds(subuid, names);
    const gids = parseSubIds(subgid, names);
    if (uids.length > 0 && gids.length > 0) return { owner, uids, gids };
  }
  return { owner: 'default', uids: [DEFAULT_POOL], gids: [DEFAULT_POOL] };
}

/** The uid of a passwd user, from /etc/passwd (subuid files may name users by uid). */
export function passwdUid(name: string, passwd = '/etc/passwd'): number | undefined {
  try {
    for (const line of readFileSync(passwd, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined) return Number(f[2]);
    }
  } catch { /* no passwd */ }
  return undefined;
}

/** The host start of every RANGE_SIZE slot in `ranges`, in order. */
function slots(ranges: IdRange[]): number[] {
  const out: number[] = [];
  for (const r of ranges) for (let s = r.hostId; s + RANGE_SIZE <= r.hostId + r.size; s += RANGE_SIZE) out.push(s);
  return out;
}

const overlaps = (a: IdRange, b: IdRange): boolean => a.hostId < b.hostId + b.size && b.hostId < a.hostId + a.size;

/**
 * A mapping for a new container: the first slot whose uid and gid ranges
 * overlap no range in `held` (the mappings of every existing container).
 * ResourceExhausted when every slot is taken, saying how to grow the pool.
 */
export function allocateIdMapping(pool: IdPool, held: IdMapping[]): IdMapping {
  const us = slots(pool.uids);
  const gs = slots(pool.gids);
  const n = Math.min(us.length, gs.length);
  if (n === 0) {
    throw new InvalidArgumentError(`the "${pool.owner}" entries of /etc/subuid and /etc/subgid hold no range of ${RANGE_SIZE} ids; give that user at least ${RANGE_SIZE} ids in each file`, { field: 'host_config.userns_mode' });
  }
  const heldUids = held.flatMap((m) => m.uidMappings);
  const heldGids = held.flatMap((m) => m.gidMappings);
  for (let i = 0; i < n; i++) {
    const u: IdRange = { containerId: 0, hostId: us[i]!, size: RANGE_SIZE };
    const g: IdRange = { containerId: 0, hostId: gs[i]!, size: RANGE_SIZE };
    if (heldUids.some((h) => overlaps(h, u)) || heldGids.some((h) => overlaps(h, g))) continue;
    return { uidMappings: [u], gidMappings: [g] };
  }
  const where = pool.owner === 'default' ? 'berth\'s default pool' : `the /etc/subuid and /etc/subgid entries of "${pool.owner}"`;
  throw new ResourceExhaustedError(`every one of the ${n} id ranges of ${RANGE_SIZE} in ${where} is held by a container with --userns auto; remove such a container or give the "berth" user more ids in /etc/subuid and /etc/subgid`, { field: 'host_config.userns_mode' });
}

/** "container:host:size" per range, as Podman's inspect shows a mapping. */
export function formatIdRanges(ranges: IdRange[]): string[] {
  return ranges.map((r) => `${r.containerId}:${r.hostId}:${r.size}`);
}

/**
 * Gives `path` to the container's root (the first host uid/gid of its range):
 * files the engine makes for a --userns auto container (hosts, resolv.conf,
 * hostname, new volumes) must be writable by its root, as Podman chowns its own.
 */
export function chownToContainerRoot(path: string, m: IdMapping): void {
  const uid = m.uidMappings.find((r) => r.containerId === 0)?.hostId;
  const gid = m.gidMappings.find((r) => r.containerId === 0)?.hostId;
  if (uid === undefined || gid === undefined) throw new InvalidArgumentError('the id mapping maps no container root (container id 0)', { field: 'host_config.userns_mode' });
  chownSync(path, uid, gid);
}
