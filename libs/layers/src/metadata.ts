// Snapshot metadata in SQLite (better-sqlite3, installed at the root).
// Why SQLite rather than JSON files: commit, remove and garbage collection
// change several rows at once (rename a key, flip its kind, check children)
// and must be all-or-nothing across a kill -9; a WAL-mode transaction gives
// that with no fsync-rename dance per file, and "who are the children of X"
// is an indexed query instead of a scan. better-sqlite3 is synchronous, which
// suits a store whose every call is already a short critical section.
import Database from 'better-sqlite3';
import { AlreadyExistsError, NotFoundError } from '@berth/errors';
import { closeDbFile } from '@berth/kit';
import type { SnapshotKind } from './driver';

export interface SnapshotRow {
  key: string;
  id: string;
  kind: SnapshotKind;
  parent: string | null;
  labels: Record<string, string>;
  diffId: string | null;
  /** Uncompressed tar bytes of the layer, for layers made by applyLayer. */
  size: number | null;
  createdAt: number;
  updatedAt: number;
}

interface RawRow {
  key: string; id: string; kind: SnapshotKind; parent: string | null; labels: string;
  diff_id: string | null; size: number | null; created_at: number; updated_at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
  key TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('committed', 'active', 'view')),
  parent TEXT REFERENCES snapshots(key),
  labels TEXT NOT NULL DEFAULT '{}',
  diff_id TEXT,
  size INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent);
CREATE TABLE IF NOT EXISTS mounts (key TEXT PRIMARY KEY, target TEXT NOT NULL);
`;

function fromRaw(r: RawRow): SnapshotRow {
  return {
    key: r.key, id: r.id, kind: r.kind, parent: r.parent, labels: JSON.parse(r.labels) as Record<string, string>,
    diffId: r.diff_id, size: r.size, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

export class Metadata {
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(file: string) {
    // Snapshot labels and mounts: 0600, -wal and -shm too (made before SQLite opens it).
    closeDbFile(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /**
   * The prepared statement for `sql`, prepared once: preparing parses and
   * plans the SQL, which cost more than running these one-row queries (the
   * run path looks snapshots up several times per container).
   */
  private stmt(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getMeta(k: string): string | undefined {
    return (this.stmt('SELECT v FROM meta WHERE k = ?').get(k) as { v: string } | undefined)?.v;
  }

  setMeta(k: string, v: string): void {
    this.stmt('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v').run(k, v);
  }

  find(key: string): SnapshotRow | undefined {
    const r = this.stmt('SELECT * FROM snapshots WHERE key = ?').get(key) as RawRow | undefined;
    return r ? fromRaw(r) : undefined;
  }

  get(key: string): SnapshotRow {
    const r = this.find(key);
    if (!r) throw new NotFoundError(`snapshot "${key}" does not exist; list snapshots to see what the store holds`, { field: 'key' });
    return r;
  }

  insert(row: Omit<SnapshotRow, 'createdAt' | 'updatedAt'>): SnapshotRow {
    const now = Date.now();
    try {
      this.stmt(`INSERT INTO snapshots (key, id, kind, parent, labels, diff_id, size, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(row.key, row.id, row.kind, row.parent, JSON.stringify(row.labels), row.diffId, row.size, now, now);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new AlreadyExistsError(`snapshot "${row.key}" already exists; pick another key or remove it first`, { field: 'key' });
      }
      throw e;
    }
    return { ...row, createdAt: now, updatedAt: now };
  }

  /** Renames an active snapshot to `name` and makes it committed. */
  commit(key: string, name: string, diffId: string | null, size: number | null): void {
    this.stmt(`UPDATE snapshots SET key = ?, kind = 'committed', diff_id = ?, size = ?, updated_at = ? WHERE key = ?`)
      .run(name, diffId, size, Date.now(), key);
  }

  setLabels(key: string, labels: Record<string, string>): void {
    this.stmt('UPDATE snapshots SET labels = ?, updated_at = ? WHERE key = ?').run(JSON.stringify(labels), Date.now(), key);
  }

  delete(key: string): void {
    this.stmt('DELETE FROM snapshots WHERE key = ?').run(key);
  }

  children(key: string): string[] {
    return (this.stmt('SELECT key FROM snapshots WHERE parent = ? ORDER BY key').all(key) as Array<{ key: string }>).map((r) => r.key);
  }

  all(): SnapshotRow[] {
    return (this.stmt('SELECT * FROM snapshots ORDER BY created_at, rowid').all() as RawRow[]).map(fromRaw);
  }

  /** Storage ids of the committed chain below `parent`, nearest first. */
  chain(parent: string | null): { keys: string[]; ids: string[] } {
    const keys: string[] = [];
    const ids: string[] = [];
    let k = parent;
    while (k !== null) {
      const r = this.get(k);
      keys.push(r.key);
      ids.push(r.id);
      k = r.parent;
    }
    return { keys, ids };
  }

  mountOf(key: string): string | undefined {
    return (this.stmt('SELECT target FROM mounts WHERE key = ?').get(key) as { target: string } | undefined)?.target;
  }

  setMount(key: string, target: string): void {
    this.stmt('INSERT INTO mounts (key, target) VALUES (?, ?)').run(key, target);
  }

  deleteMount(key: string): void {
    this.stmt('DELETE FROM mounts WHERE key = ?').run(key);
  }

  allMounts(): { key: string; target: string }[] {
    return this.stmt('SELECT key, target FROM mounts').all() as { key: string; target: string }[];
  }
}
