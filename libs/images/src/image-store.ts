// Image records (after containerd's image store): a name pointing at a
// target descriptor (a manifest or an index), with labels and times. Names are
// normalised references (docker.io/library/busybox:latest, or name@digest).
// Untagged ("dangling") images keep a record named DANGLING_PREFIX + digest so
// that `docker images -f dangling=true` has something to show and GC keeps
// them until they are removed or pruned, as Docker does.
import { AlreadyExistsError, NotFoundError } from '@berth/errors';
import type { Descriptor } from './media-types.js';
import type { Db } from './metadata.js';

export const DANGLING_PREFIX = '<none>@';

export interface ImageRecord {
  name: string;
  target: Descriptor;
  /** Digest of the default-platform config: the image ID Docker shows. */
  configDigest: string | undefined;
  labels: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  name: string; media_type: string; digest: string; size: number; target_json: string;
  config_digest: string | null; labels: string; created_at: number; updated_at: number;
}

const toRecord = (r: Row): ImageRecord => ({
  name: r.name,
  target: JSON.parse(r.target_json) as Descriptor,
  configDigest: r.config_digest ?? undefined,
  labels: JSON.parse(r.labels) as Record<string, string>,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

export const isDanglingName = (name: string) => name.startsWith(DANGLING_PREFIX);

export class ImageStore {
  constructor(private readonly db: Db) {}

  get(name: string): ImageRecord {
    const r = this.db.prepare('SELECT * FROM images WHERE name = ?').get(name) as Row | undefined;
    if (!r) throw new NotFoundError(`image ${name} not found`, { field: 'reference' });
    return toRecord(r);
  }

  find(name: string): ImageRecord | undefined {
    const r = this.db.prepare('SELECT * FROM images WHERE name = ?').get(name) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  list(): ImageRecord[] {
    return (this.db.prepare('SELECT * FROM images ORDER BY created_at, name').all() as Row[]).map(toRecord);
  }

  /** Records whose target or config digest is `digest`. */
  byDigest(digest: string): ImageRecord[] {
    return (this.db.prepare('SELECT * FROM images WHERE digest = ? OR config_digest = ? ORDER BY name').all(digest, digest) as Row[]).map(toRecord);
  }

  create(rec: Omit<ImageRecord, 'createdAt' | 'updatedAt'> & { createdAt?: Date }): ImageRecord {
    const now = Date.now();
    const created = rec.createdAt?.getTime() ?? now;
    try {
      this.db
        .prepare(
          `INSERT INTO images (name, media_type, digest, size, target_json, config_digest, labels, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(rec.name, rec.target.mediaType, rec.target.digest, rec.target.size, JSON.stringify(rec.target),
          rec.configDigest ?? null, JSON.stringify(rec.labels), created, now);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new AlreadyExistsError(`image ${rec.name} already exists`, { field: 'reference' });
      throw e;
    }
    return this.get(rec.name);
  }

  /**
   * Points `name` at a new target (creating it if absent) and returns the
   * record it replaced. If that old target is left without any name, it is
   * kept as a dangling record; all in one transaction.
   */
  put(rec: Omit<ImageRecord, 'createdAt' | 'updatedAt'> & { createdAt?: Date }): { record: ImageRecord; replaced: ImageRecord | undefined } {
    const tx = this.db.transaction(() => {
      const old = this.find(rec.name);
      if (old && old.target.digest === rec.target.digest) {
        this.db.prepare('UPDATE images SET labels = ?, updated_at = ? WHERE name = ?').run(JSON.stringify(rec.labels), Date.now(), rec.name);
        return { record: this.get(rec.name), replaced: undefined };
      }
      if (old) this.db.prepare('DELETE FROM images WHERE name = ?').run(rec.name);
      // A new name for a dangling image adopts it.
      this.db.prepare('DELETE FROM images WHERE name = ?').run(DANGLING_PREFIX + rec.target.digest);
      const record = this.create(rec);
      if (old && !isDanglingName(old.name) && this.byDigestTarget(old.target.digest).length === 0) {
        this.create({ ...old, name: DANGLING_PREFIX + old.target.digest, createdAt: old.createdAt });
      }
      return { record, replaced: old };
    });
    return tx();
  }

  delete(name: string): ImageRecord {
    const rec = this.get(name);
    this.db.prepare('DELETE FROM images WHERE name = ?').run(name);
    return rec;
  }

  private byDigestTarget(digest: string): ImageRecord[] {
    return (this.db.prepare('SELECT * FROM images WHERE digest = ?').all(digest) as Row[]).map(toRecord);
  }

  /** Every target descriptor: the garbage collector's roots from images. */
  targets(): Descriptor[] {
    return (this.db.prepare('SELECT target_json FROM images').all() as Array<{ target_json: string }>).map(
      (r) => JSON.parse(r.target_json) as Descriptor,
    );
  }
}
