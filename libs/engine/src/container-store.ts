// Container records: insert, find (id, unique id prefix, name), list with
// Docker's `ps` filters, transactional updates through the state machine.
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '@berth/errors';
import type { Db } from './db';
import { transition, type Transition } from './state';
import { defaultHostConfig, type ContainerRecord, type ContainerState } from './types';

/** A fresh 64-hex container id (256 random bits, as Docker). */
export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

/**
 * A stored record; a HostConfig field added after the record was written
 * reads as its default (records are JSON documents, not columns).
 */
function parseRecord(doc: string): ContainerRecord {
  const c = JSON.parse(doc) as ContainerRecord;
  return { ...c, hostConfig: { ...defaultHostConfig(), ...c.hostConfig } };
}

/** Docker's ps filters: OR within one key, AND across keys. */
export type ContainerFilters = Record<string, string[]>;

const FILTER_KEYS = new Set(['status', 'name', 'label', 'id', 'ancestor', 'exited', 'before', 'since']);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

export interface ListOptions {
  /** Include stopped containers (ps -a). Without it only running, paused and restarting ones. */
  all?: boolean;
  filters?: ContainerFilters;
  /** Newest N whatever their state (ps -n implies -a); 0 = no limit. */
  limit?: number;
}

export class ContainerStore {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a new record; `seq` is assigned here. A taken name is
   * AlreadyExists worded as Docker words it, naming the holder.
   */
  insert(rec: Omit<ContainerRecord, 'seq'>): ContainerRecord {
    return this.db.transaction(() => {
      const holder = this.db.prepare('SELECT id FROM containers WHERE name = ?').get(rec.name) as { id: string } | undefined;
      if (holder) {
        throw new AlreadyExistsError(
          `the container name "/${rec.name}" is already in use by container "${holder.id}"; remove (or rename) that container to reuse the name`,
          { field: 'name' },
        );
      }
      if (this.db.prepare('SELECT 1 FROM containers WHERE id = ?').get(rec.id)) {
        throw new AlreadyExistsError(`container id ${rec.id} already exists`, { field: 'id' });
      }
      const { s } = this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM containers').get() as { s: number };
      const full: ContainerRecord = { ...rec, seq: s };
      this.db.prepare('INSERT INTO containers(id, name, state, seq, created_at, doc) VALUES (?, ?, ?, ?, ?, ?)')
        .run(full.id, full.name, full.state, full.seq, full.createdAt, JSON.stringify(full));
      return full;
    })();
  }

  /** True when a container holds `name`. */
  nameTaken(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM containers WHERE name = ?').get(name) !== undefined;
  }

  /** By full id only; NotFound otherwise. */
  get(id: string): ContainerRecord {
    const row = this.db.prepare('SELECT doc FROM containers WHERE id = ?').get(id) as { doc: string } | undefined;
    if (!row) throw new NotFoundError(`no such container: ${id}`, { field: 'id' });
    return parseRecord(row.doc);
  }

  /**
   * Resolves what a user typed: full id, exact name (with or without "/"),
   * then unique id prefix. Docker's order: an exact id wins, then a name,
   * then a prefix, so a container named like another's id prefix is still
   * reachable by name.
   */
  find(ref: string): ContainerRecord {
    if (ref === '') throw new InvalidArgumentError('container name or id must not be empty', { field: 'container' });
    const byId = this.db.prepare('SELECT doc FROM containers WHERE id = ?').get(ref) as { doc: string } | undefined;
    if (byId) return parseRecord(byId.doc);
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    const byName = this.db.prepare('SELECT doc FROM containers WHERE name = ?').get(name) as { doc: string } | undefined;
    if (byName) return parseRecord(byName.doc);
    if (/^[0-9a-f]+$/.test(ref)) {
      const rows = this.db.prepare("SELECT id, name, doc FROM containers WHERE id >= ? AND id < ? || 'g' ORDER BY id")
        .all(ref, ref) as { id: string; name: string; doc: string }[];
      if (rows.length === 1) return parseRecord(rows[0]!.doc);
      if (rows.length > 1) {
        throw new InvalidArgumentError(
          `container id prefix "${ref}" is ambiguous: it matches ${rows.map((r) => `${r.id.slice(0, 12)} (${r.name})`).join(', ')}; type more of the id`,
          { field: 'container' },
        );
      }
    }
    throw new NotFoundError(`no such container: ${ref}`, { field: 'container' });
  }

  /** Newest first, as `ps` prints them. */
  list(opts: ListOptions = {}): ContainerRecord[] {
    const filters = opts.filters ?? {};
    for (const key of Object.keys(filters)) {
      if (!FILTER_KEYS.has(key)) {
        throw new InvalidArgumentError(`invalid filter "${key}": accepted filters are ${[...FILTER_KEYS].join(', ')}`, { field: 'filter' });
      }
    }
    for (const s of filters.status ?? []) {
      if (!STATUSES.has(s)) {
        throw new InvalidArgumentError(`invalid filter "status=${s}": status is one of ${[...STATUSES].join(', ')}`, { field: 'filter' });
      }
    }
    const exitedCodes = (filters.exited ?? []).map((v) => {
      if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`invalid filter "exited=${v}": expected an integer exit code`, { field: 'filter' });
      return Number(v);
    });
    const bound = (key: 'before' | 'since'): number | undefined => {
      const vals = filters[key];
      if (!vals || vals.length === 0) return undefined;
      return this.find(vals[0]!).seq;
    };
    const before = bound('before');
    const since = bound('since');
    const nameRes = (filters.name ?? []).map((n) => safeRegExp(n, 'name'));

    const rows = this.db.prepare('SELECT doc FROM containers ORDER BY seq DESC').all() as { doc: string }[];
    let out: ContainerRecord[] = [];
    for (const { doc } of rows) {
      const c = parseRecord(doc);
      // -a is implied by filters that can only match stopped containers, as Docker does.
      const showAll = opts.all || (opts.limit ?? 0) > 0 || filters.status !== undefined || filters.exited !== undefined || before !== undefined || since !== undefined;
      if (!showAll && !(c.state === 'running' || c.state === 'paused' || c.state === 'restarting')) continue;
      if (filters.status && !filters.status.includes(c.state)) continue;
      if (filters.id && !filters.id.some((p) => c.id.startsWith(p))) continue;
      if (nameRes.length && !nameRes.some((re) => re.test(c.name))) continue;
      if (filters.label && !filters.label.every((l) => labelMatches(c.config.labels, l))) continue;
      if (filters.ancestor && !filters.ancestor.some((a) => ancestorMatches(c, a))) continue;
      if (exitedCodes.length && !(c.state === 'exited' && exitedCodes.includes(c.exitCode))) continue;
      if (before !== undefined && c.seq >= before) continue;
      if (since !== undefined && c.seq <= since) continue;
      out.push(c);
    }
    if (opts.limit && opts.limit > 0) out = out.slice(0, opts.limit);
    return out;
  }

  /**
   * Read-modify-write in one transaction. `fn` gets the current record and
   * returns the new one (it may throw to abort). id and seq cannot change.
   */
  update(id: string, fn: (cur: ContainerRecord) => ContainerRecord): ContainerRecord {
    return this.db.transaction(() => {
      const cur = this.get(id);
      const next = { ...fn(cur), id: cur.id, seq: cur.seq };
      if (next.name !== cur.name && this.nameTaken(next.name)) {
        throw new AlreadyExistsError(`the container name "/${next.name}" is already in use; choose another name`, { field: 'name' });
      }
      this.db.prepare('UPDATE containers SET name = ?, state = ?, doc = ? WHERE id = ?')
        .run(next.name, next.state, JSON.stringify(next), id);
      return next;
    })();
  }

  /**
   * Applies a state-machine transition plus field changes atomically; throws
   * FailedPrecondition (naming the current state) when it is illegal.
   */
  transition(id: string, t: Transition, patch: (cur: ContainerRecord) => Partial<ContainerRecord> = () => ({})): ContainerRecord {
    return this.update(id, (cur) => {
      const state = transition(cur.name, cur.state, t);
      return { ...cur, ...patch(cur), state };
    });
  }

  /** Deletes the record (after the `remove` transition was checked by the caller). */
  delete(id: string): void {
    const r = this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    if (r.changes === 0) throw new NotFoundError(`no such container: ${id}`, { field: 'id' });
  }
}

function safeRegExp(src: string, field: string): RegExp {
  try {
    return new RegExp(src);
  } catch {
    throw new InvalidArgumentError(`invalid filter "${field}=${src}": not a valid regular expression`, { field: 'filter' });
  }
}

/** "key" matches presence; "key=value" matches the value exactly. */
export function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return Object.prototype.hasOwnProperty.call(labels, filter);
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

// ancestor=<image>: the reference as given, the same repo with ":latest"
// implied, or the image digest / its prefix.
function ancestorMatches(c: ContainerRecord, a: string): boolean {
  if (c.image === a || c.imageDigest === a) return true;
  if (!a.includes(':') && c.image === `${a}:latest`) return true;
  if (!c.image.includes(':') && `${c.image}:latest` === a) return true;
  const hex = c.imageDigest.replace(/^sha256:/, '');
  const q = a.replace(/^sha256:/, '');
  return q.length >= 4 && /^[0-9a-f]+$/.test(q) && hex.startsWith(q);
}

export type { ContainerState };
