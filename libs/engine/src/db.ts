// The engine's embedded database: one SQLite file (better-sqlite3, WAL) under
// the engine's state dir holding container records and named volumes.
//
// Why SQLite: every state change is a single-row transaction that must survive
// an engine crash between "process exited" and "record says exited"; WAL keeps
// readers (ps, inspect) off the writer's lock. Schema changes are numbered
// migrations recorded in schema_migrations, applied in order at open, each in
// its own transaction so a crash mid-upgrade leaves the previous version.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataLossError, fromNodeError } from '@berth/errors';
import { closeDbFile } from '@berth/kit';

export type Db = Database.Database;

interface Migration {
  version: number;
  name: string;
  sql: string;
}

// Append only: never edit an applied migration, add a new one.
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'containers and volumes',
    sql: `
      CREATE TABLE containers (
        id         TEXT PRIMARY KEY,           -- 64 hex
        name       TEXT NOT NULL UNIQUE,       -- without leading "/"
        state      TEXT NOT NULL,
        seq        INTEGER NOT NULL UNIQUE,    -- creation order (ps order, before/since)
        created_at INTEGER NOT NULL,           -- epoch ms
        doc        TEXT NOT NULL               -- the full ContainerRecord as JSON
      );
      CREATE INDEX containers_state ON containers(state);
      CREATE TABLE volumes (
        name       TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        doc        TEXT NOT NULL               -- the VolumeRecord as JSON
      );
      -- Which container uses which named volume: removal refuses while a row exists.
      CREATE TABLE volume_refs (
        volume       TEXT NOT NULL REFERENCES volumes(name),
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        PRIMARY KEY (volume, container_id)
      );
    `,
  },
];

/** The newest schema version this build knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Opens (creating if needed) the engine DB at `path` and migrates it. */
export function openEngineDb(path: string): Db {
  let db: Db;
  try {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // engine.db holds every container's config, `-e` values included:
      // 0600, and so are its -wal and -shm.
      closeDbFile(path);
    }
    db = new Database(path);
  } catch (e) {
    throw fromNodeError(e, `open engine database ${path}`);
  }
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only a power cut
  // can lose the last transactions, which recovery then reconciles.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  if (current > SCHEMA_VERSION) {
    throw new DataLossError(
      `engine database schema is version ${current}, newer than this berth (${SCHEMA_VERSION}); upgrade berth or restore an older state dir`,
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)')
        .run(m.version, m.name, new Date().toISOString());
    })();
  }
}

/** Applied migrations, oldest first (for `berth system info` and tests). */
export function appliedMigrations(db: Db): { version: number; name: string }[] {
  return db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as { version: number; name: string }[];
}
