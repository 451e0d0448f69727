// Leases (after containerd's leases service): a lease protects content from
// garbage collection while an operation that has not yet created an image
// record (a pull, a load, an import) is writing it. A pull opens a lease,
// every blob it commits is added to the lease inside the same critical
// section as the blob's rename into place, then the pull writes the image
// record and deletes the lease. A lease left behind by a crash expires.
//
// Leases are also how a container holds its image (the images service owns
// that fact; the engine only creates and deletes the lease): a lease that
// never expires, labelled with the container, holding an 'image' resource
// (the image ID) and the image's target as 'content'. rmi refuses the last
// name of a held image (force untags and keeps it), prune skips it, GC keeps
// its blobs. A lease is only ever held by the one holder that created it.
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, NotFoundError } from '@berth/errors';
import type { Db } from './metadata.js';

export interface Lease {
  id: string;
  createdAt: Date;
  /** When the lease stops protecting its resources; undefined never. */
  expiresAt: Date | undefined;
  labels: Record<string, string>;
}

export type LeaseResourceKind = 'content' | 'ingest' | 'image';

export interface LeaseResource {
  kind: LeaseResourceKind;
  key: string;
}

export interface LeaseCreateOptions {
  id?: string;
  /** Milliseconds until expiry. Default 24 h: long pulls must not lose content mid-way. */
  expiresInMs?: number | null;
  labels?: Record<string, string>;
  /** Resources held from the start, added in the same transaction. */
  resources?: LeaseResource[];
}

interface LeaseRow { id: string; created_at: number; expires_at: number | null; labels: string }

const toLease = (r: LeaseRow): Lease => ({
  id: r.id,
  createdAt: new Date(r.created_at),
  expiresAt: r.expires_at === null ? undefined : new Date(r.expires_at),
  labels: JSON.parse(r.labels) as Record<string, string>,
});

export class LeaseManager {
  constructor(private readonly db: Db) {}

  create(opts: LeaseCreateOptions = {}): Lease {
    const id = opts.id ?? `lease-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    const now = Date.now();
    const ttl = opts.expiresInMs === undefined ? 24 * 3600_000 : opts.expiresInMs;
    const expires = ttl === null ? null : now + ttl;
    this.db.transaction(() => {
      try {
        this.db
          .prepare('INSERT INTO leases (id, created_at, expires_at, labels) VALUES (?, ?, ?, ?)')
          .run(id, now, expires, JSON.stringify(opts.labels ?? {}));
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new AlreadyExistsError(`lease ${id} already exists`, { field: 'id' });
        throw e;
      }
      const add = this.db.prepare('INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, ?, ?)');
      for (const r of opts.resources ?? []) add.run(id, r.kind, r.key);
    })();
    return { id, createdAt: new Date(now), expiresAt: expires === null ? undefined : new Date(expires), labels: opts.labels ?? {} };
  }

  delete(id: string): void {
    const r = this.db.prepare('DELETE FROM leases WHERE id = ?').run(id);
    if (r.changes === 0) throw new NotFoundError(`lease ${id} not found`, { field: 'lease' });
  }

  list(): Lease[] {
    const rows = this.db.prepare('SELECT id, created_at, expires_at, labels FROM leases ORDER BY created_at').all() as LeaseRow[];
    return rows.map(toLease);
  }

  /** Adds a resource; NotFound if the lease is gone (expired and collected). */
  addResource(id: string, kind: LeaseResourceKind, key: string): void {
    const exists = this.db.prepare('SELECT 1 FROM leases WHERE id = ?').get(id);
    if (!exists) throw new NotFoundError(`lease ${id} not found: it expired or was deleted`, { field: 'lease' });
    this.db.prepare('INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, ?, ?)').run(id, kind, key);
  }

  resources(id: string): Array<{ kind: LeaseResourceKind; key: string }> {
    return this.db.prepare('SELECT kind, key FROM lease_resources WHERE lease_id = ?').all(id) as Array<{ kind: LeaseResourceKind; key: string }>;
  }

  /** Every resource held by a live lease (the GC roots leases contribute). */
  liveResources(now = Date.now(), excludeLease = ''): Array<{ kind: LeaseResourceKind; key: string }> {
    return this.db
      .prepare(
        `SELECT DISTINCT r.kind, r.key FROM lease_resources r JOIN leases l ON l.id = r.lease_id
         WHERE (l.expires_at IS NULL OR l.expires_at > ?) AND l.id != ?`,
      )
      .all(now, excludeLease) as Array<{ kind: LeaseResourceKind; key: string }>;
  }

  /**
   * Live leases holding any of `keys` as a `kind` resource, oldest first:
   * who holds an image (rmi's conflict message names the first).
   */
  holders(kind: LeaseResourceKind, keys: string[], now = Date.now()): Lease[] {
    if (keys.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT DISTINCT l.id, l.created_at, l.expires_at, l.labels FROM leases l JOIN lease_resources r ON r.lease_id = l.id
         WHERE r.kind = ? AND r.key IN (${keys.map(() => '?').join(',')}) AND (l.expires_at IS NULL OR l.expires_at > ?)
         ORDER BY l.created_at, l.id`,
      )
      .all(kind, ...keys, now) as LeaseRow[];
    return rows.map(toLease);
  }

  /** Deletes expired leases; returns how many. */
  deleteExpired(now = Date.now()): number {
    return this.db.prepare('DELETE FROM leases WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now).changes;
  }
}
