// Image records (after containerd's image store, with Docker's identity): a
// name pointing at a target descriptor (a manifest or an index), with labels
// and times. Names are normalised references (docker.io/library/busybox:latest,
// or name@digest).
//
// An image is its config: the image ID is the config digest of the
// default-platform manifest (the target's digest only for a record without
// one). One image has many names (RepoTags, and RepoDigests from the
// manifests its names point at): the same image pulled under two names, or
// loaded locally and then pulled from a registry (another manifest, same
// config), is one image, one ID. So "is this image still named", "which names
// does rmi <id> remove" and "is this ID prefix ambiguous" are answered by
// image ID, never by target digest.
//
// An image left without any name ("dangling") keeps one record named
// DANGLING_PREFIX + image ID, so that `images -f dangling=true` has something
// to show and GC keeps it until it is removed or pruned, as Docker does. A
// later name for that image adopts it.
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

/** The image ID: the config digest, or the target's for a record that has none. */
export const imageIdOf = (rec: Pick<ImageRecord, 'configDigest' | 'target'>): string => rec.configDigest ?? rec.target.digest;

/** The record name of image `id` while it has no other name. */
export const danglingName = (id: string): string => DANGLING_PREFIX + id;

/**
 * Records of stores written before image IDs were identities: dangling
 * records were kept per target digest, so one image could have a dangling
 * record beside its names, or several. Each image keeps at most one, named by
 * its ID, and none while it has a name. Runs once (PRAGMA user_version 1).
 */
function migrateToImageIds(db: Db): void {
  if ((db.pragma('user_version', { simple: true }) as number) >= 1) return;
  db.transaction(() => {
    const rows = db.prepare('SELECT * FROM images ORDER BY created_at, name').all() as Row[];
    const named = new Set(rows.filter((r) => !isDanglingName(r.name)).map((r) => r.config_digest ?? r.digest));
    const kept = new Set<string>();
    for (const r of rows.filter((x) => isDanglingName(x.name))) {
      const id = r.config_digest ?? r.digest;
      if (named.has(id) || kept.has(id)) {
        db.prepare('DELETE FROM images WHERE name = ?').run(r.name);
      } else {
        kept.add(id);
        if (r.name !== danglingName(id)) db.prepare('UPDATE images SET name = ? WHERE name = ?').run(danglingName(id), r.name);
      }
    }
    db.pragma('user_version = 1');
  })();
}

export class ImageStore {
  constructor(private readonly db: Db) {
    migrateToImageIds(db);
  }

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

  /** The records (names, or its dangling record) of image `id`, oldest first. */
  byImage(id: string): ImageRecord[] {
    return (this.db.prepare('SELECT * FROM images WHERE config_digest = ? OR (config_digest IS NULL AND digest = ?) ORDER BY created_at, name').all(id, id) as Row[]).map(toRecord);
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
   * record it replaced. If that old image is left without any name, it is
   * kept as a dangling record; all in one transaction. A dangling name
   * (DANGLING_PREFIX + anything) records the image under its ID, unless the
   * image has a name already: then that record is returned.
   */
  put(rec: Omit<ImageRecord, 'createdAt' | 'updatedAt'> & { createdAt?: Date }): { record: ImageRecord; replaced: ImageRecord | undefined } {
    const tx = this.db.transaction(() => {
      const id = imageIdOf(rec);
      if (isDanglingName(rec.name)) {
        const existing = this.byImage(id)[0];
        if (existing) return { record: existing, replaced: undefined };
        return { record: this.create({ ...rec, name: danglingName(id) }), replaced: undefined };
      }
      const old = this.find(rec.name);
      if (old && old.target.digest === rec.target.digest) {
        this.db.prepare('UPDATE images SET labels = ?, updated_at = ? WHERE name = ?').run(JSON.stringify(rec.labels), Date.now(), rec.name);
        return { record: this.get(rec.name), replaced: undefined };
      }
      if (old) this.db.prepare('DELETE FROM images WHERE name = ?').run(rec.name);
      // A new name for a dangling image adopts it.
      this.db.prepare('DELETE FROM images WHERE name = ?').run(danglingName(id));
      const record = this.create(rec);
      if (old && !isDanglingName(old.name) && this.byImage(imageIdOf(old)).length === 0) {
        this.create({ ...old, name: danglingName(imageIdOf(old)), createdAt: old.createdAt });
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

  /** Every target descriptor: the garbage collector's roots from images. */
  targets(): Descriptor[] {
    return (this.db.prepare('SELECT target_json FROM images').all() as Array<{ target_json: string }>).map(
      (r) => JSON.parse(r.target_json) as Descriptor,
    );
  }
}
