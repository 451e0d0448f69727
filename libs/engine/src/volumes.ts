// Named volumes managed by the engine (Docker's "local" driver): a directory
// <stateDir>/volumes/<name>/_data, a row in the engine DB, and a reference row
// per container using it so removal is refused while it is in use.
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AlreadyExistsError, FailedPreconditionError, fromNodeError, InvalidArgumentError, NotFoundError } from '@berth/errors';
import type { Db } from './db';
import { labelMatches } from './container-store';
import { validateVolumeName } from './validate';

/** Label berth puts on volumes it created for `-v /path` and image VOLUMEs. */
export const ANONYMOUS_LABEL = 'io.berth.volume.anonymous';

export interface VolumeRecord {
  name: string;
  driver: 'local';
  /** Host directory the container sees. */
  mountpoint: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Epoch ms. */
  createdAt: number;
  anonymous: boolean;
}

export type VolumeFilters = Record<string, string[]>;

export class VolumeStore {
  constructor(private readonly db: Db, private readonly stateDir: string, private readonly now: () => number = Date.now) {}

  /** Data directory of a volume. */
  mountpointOf(name: string): string {
    return join(this.stateDir, 'volumes', name, '_data');
  }

  /**
   * Creates a volume; a missing name makes an anonymous one (64 hex, as
   * Docker). Creating an existing name with the same options returns it
   * (docker volume create is idempotent); different options are AlreadyExists.
   */
  create(opts: { name?: string; labels?: Record<string, string>; options?: Record<string, string> } = {}): VolumeRecord {
    const anonymous = !opts.name;
    const name = opts.name || randomBytes(32).toString('hex');
    validateVolumeName(name);
    for (const k of Object.keys(opts.options ?? {})) {
      if (!['type', 'device', 'o', 'size'].includes(k)) {
        throw new InvalidArgumentError(`invalid volume option "${k}": the local driver accepts type, device, o, size`, { field: 'opt' });
      }
    }
    const existing = this.find(name);
    if (existing) {
      if (JSON.stringify(existing.options) !== JSON.stringify(opts.options ?? {})) {
        throw new AlreadyExistsError(`volume ${name} already exists with different options`, { field: 'name' });
      }
      return existing;
    }
    const rec: VolumeRecord = {
      name, driver: 'local', mountpoint: this.mountpointOf(name),
      labels: { ...(opts.labels ?? {}), ...(anonymous ? { [ANONYMOUS_LABEL]: '' } : {}) },
      options: opts.options ?? {}, createdAt: this.now(), anonymous,
    };
    try {
      // volumes/ and volumes/<name> are 0700 (other users never reach a
      // volume's data); _data is 0755 as Docker makes it, and from then on
      // keeps whatever mode the container gives it.
      mkdirSync(join(this.stateDir, 'volumes', name), { recursive: true, mode: 0o700 });
      if (mkdirSync(rec.mountpoint, { recursive: true })) chmodSync(rec.mountpoint, 0o755);
    } catch (e) {
      throw fromNodeError(e, `create volume directory ${rec.mountpoint}`);
    }
    this.db.prepare('INSERT INTO volumes(name, created_at, doc) VALUES (?, ?, ?)').run(name, rec.createdAt, JSON.stringify(rec));
    return rec;
  }

  find(name: string): VolumeRecord | undefined {
    const row = this.db.prepare('SELECT doc FROM volumes WHERE name = ?').get(name) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as VolumeRecord) : undefined;
  }

  inspect(name: string): VolumeRecord {
    const v = this.find(name);
    if (!v) throw new NotFoundError(`no such volume: ${name}`, { field: 'volume' });
    return v;
  }

  /** Container ids using the volume. */
  usedBy(name: string): string[] {
    return (this.db.prepare('SELECT container_id FROM volume_refs WHERE volume = ? ORDER BY container_id').all(name) as { container_id: string }[])
      .map((r) => r.container_id);
  }

  /** Filters: name (substring), label (key or key=value), dangling (true|false). */
  list(filters: VolumeFilters = {}): VolumeRecord[] {
    for (const k of Object.keys(filters)) {
      if (!['name', 'label', 'dangling', 'driver'].includes(k)) {
        throw new InvalidArgumentError(`invalid filter "${k}": accepted filters are name, label, dangling, driver`, { field: 'filter' });
      }
    }
    const dangling = filters.dangling?.[0];
    if (dangling !== undefined && !['true', 'false', '1', '0'].includes(dangling)) {
      throw new InvalidArgumentError(`invalid filter "dangling=${dangling}": expected true or false`, { field: 'filter' });
    }
    const rows = this.db.prepare('SELECT doc FROM volumes ORDER BY name').all() as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as VolumeRecord).filter((v) => {
      if (filters.name && !filters.name.some((n) => v.name.includes(n))) return false;
      if (filters.label && !filters.label.every((l) => labelMatches(v.labels, l))) return false;
      if (filters.driver && !filters.driver.includes(v.driver)) return false;
      if (dangling !== undefined) {
        const isDangling = this.usedBy(v.name).length === 0;
        if (isDangling !== (dangling === 'true' || dangling === '1')) return false;
      }
      return true;
    });
  }

  /** Records that container `id` uses volume `name` (in the same DB, so it survives restarts). */
  addRef(name: string, containerId: string): void {
    this.inspect(name);
    this.db.prepare('INSERT OR IGNORE INTO volume_refs(volume, container_id) VALUES (?, ?)').run(name, containerId);
  }

  removeRefs(containerId: string): string[] {
    const names = (this.db.prepare('SELECT volume FROM volume_refs WHERE container_id = ?').all(containerId) as { volume: string }[]).map((r) => r.volume);
    this.db.prepare('DELETE FROM volume_refs WHERE container_id = ?').run(containerId);
    return names;
  }

  /** Removes a volume; refused while a container uses it (Docker: "volume is in use"). */
  remove(name: string, opts: { force?: boolean } = {}): void {
    const v = this.find(name);
    if (!v) {
      if (opts.force) return;
      throw new NotFoundError(`no such volume: ${name}`, { field: 'volume' });
    }
    const users = this.usedBy(name);
    if (users.length > 0) {
      throw new FailedPreconditionError(
        `volume ${name} is in use by container(s) ${users.map((u) => u.slice(0, 12)).join(', ')}; remove the container(s) first`,
        { field: 'volume' },
      );
    }
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
    try {
      rmSync(join(this.stateDir, 'volumes', name), { recursive: true, force: true });
    } catch (e) {
      throw fromNodeError(e, `remove volume directory of ${name}`);
    }
  }

  /**
   * Removes unused volumes. Like Docker 23+, only anonymous ones unless `all`.
   * Returns the removed names and the bytes their data used.
   */
  prune(opts: { all?: boolean; filters?: VolumeFilters } = {}): { deleted: string[]; spaceReclaimed: number } {
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const v of this.list(opts.filters ?? {})) {
      if (!opts.all && !v.anonymous) continue;
      if (this.usedBy(v.name).length > 0) continue;
      spaceReclaimed += diskUsage(v.mountpoint);
      this.remove(v.name);
      deleted.push(v.name);
    }
    return { deleted, spaceReclaimed };
  }
}

/** Bytes allocated under `path` (st_blocks x 512, hard links counted once, symlinks not followed). */
export function diskUsage(path: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (p: string): void => {
    let st;
    try { st = lstatSync(p); } catch { return; }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    total += st.blocks * 512;
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(path);
  return total;
}
