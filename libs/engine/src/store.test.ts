import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode, isAlreadyExists, isFailedPrecondition, isInvalidArgument, isNotFound } from '@berth/errors';
import { appliedMigrations, openEngineDb, SCHEMA_VERSION, type Db } from './db';
import { ContainerStore, newContainerId } from './container-store';
import { newContainerRecord } from './record';

let dir: string;
let db: Db;
let store: ContainerStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-engine-'));
  db = openEngineDb(join(dir, 'engine.db'));
  store = new ContainerStore(db);
});
afterEach(() => {
  try { db.close(); } catch { /* already closed by the test */ }
  rmSync(dir, { recursive: true, force: true });
});

const add = (name: string, opts: { id?: string; image?: string; labels?: Record<string, string>; now?: number } = {}) =>
  store.insert(newContainerRecord({
    id: opts.id ?? newContainerId(), name, image: opts.image ?? 'alpine:3.20', imageDigest: 'sha256:' + 'ab'.repeat(32),
    config: { labels: opts.labels ?? {} }, now: opts.now ?? 1_000,
  }));

describe('engine db', () => {
  it('uses WAL and records migrations', () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(appliedMigrations(db).map((m) => m.version)).toEqual([SCHEMA_VERSION]);
  });

  it('keeps records across close and reopen (engine restart)', () => {
    const c = add('web');
    store.transition(c.id, 'start', () => ({ pid: 4242, startedAt: 2_000 }));
    db.close();
    db = openEngineDb(join(dir, 'engine.db'));
    store = new ContainerStore(db);
    const back = store.find('web');
    expect(back).toMatchObject({ id: c.id, state: 'running', pid: 4242, startedAt: 2_000 });
    expect(appliedMigrations(db)).toHaveLength(1); // migrations not re-applied
  });

  it('refuses a database from a newer berth', () => {
    db.prepare("INSERT INTO schema_migrations VALUES (999, 'future', 'x')").run();
    db.close();
    expect(() => openEngineDb(join(dir, 'engine.db'))).toThrow(/newer than this berth/);
  });
});

describe('container store', () => {
  it('generates 64-hex ids', () => {
    expect(newContainerId()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects a taken name naming the holder', () => {
    const a = add('web');
    try { add('web'); expect.unreachable(); } catch (e) {
      expect(isAlreadyExists(e)).toBe(true);
      expect((e as Error).message).toContain(a.id);
    }
  });

  it('finds by id, name, /name and unique prefix; ambiguous prefix lists matches', () => {
    const a = add('web', { id: 'abc1' + '0'.repeat(60) });
    const b = add('db', { id: 'abc2' + '0'.repeat(60) });
    expect(store.find(a.id).name).toBe('web');
    expect(store.find('db').id).toBe(b.id);
    expect(store.find('/db').id).toBe(b.id);
    expect(store.find('abc1').id).toBe(a.id);
    try { store.find('abc'); expect.unreachable(); } catch (e) {
      expect(isInvalidArgument(e)).toBe(true);
      expect((e as Error).message).toMatch(/ambiguous.*abc10000.*\(web\).*abc20000.*\(db\)/);
    }
    expect(isNotFound(catchErr(() => store.find('nope')))).toBe(true);
    expect(isNotFound(catchErr(() => store.find('abd')))).toBe(true);
  });

  it('a name wins over an id prefix', () => {
    add('x', { id: 'beef' + '0'.repeat(60) });
    const named = add('beef');
    expect(store.find('beef').id).toBe(named.id);
  });

  it('enforces the state machine with the current state in the message', () => {
    const c = add('web');
    store.transition(c.id, 'start');
    store.transition(c.id, 'exit', () => ({ exitCode: 3 }));
    const e = catchErr(() => store.transition(c.id, 'pause'));
    expect(isFailedPrecondition(e)).toBe(true);
    expect((e as Error).message).toBe('container web is not running (state: exited)');
    expect(store.get(c.id).state).toBe('exited'); // aborted transaction changed nothing
  });

  it('renames atomically and refuses a taken name', () => {
    const c = add('web');
    add('db');
    expect(errorCode(catchErr(() => store.update(c.id, (r) => ({ ...r, name: 'db' }))))).toBe('AlreadyExists');
    store.update(c.id, (r) => ({ ...r, name: 'web2' }));
    expect(store.find('web2').id).toBe(c.id);
    expect(store.nameTaken('web')).toBe(false);
  });

  it('lists newest first; only live containers without all', () => {
    const a = add('a'); const b = add('b'); const c = add('c');
    store.transition(b.id, 'start');
    store.transition(c.id, 'start'); store.transition(c.id, 'pause');
    expect(store.list().map((r) => r.name)).toEqual(['c', 'b']);
    expect(store.list({ all: true }).map((r) => r.name)).toEqual(['c', 'b', 'a']);
    expect(store.list({ all: true, limit: 1 }).map((r) => r.name)).toEqual(['c']);
    expect(store.list({ limit: 3 }).map((r) => r.name)).toEqual(['c', 'b', 'a']); // -n implies -a
    void a;
  });

  it('applies Docker ps filters', () => {
    const a = add('web-1', { labels: { tier: 'front', env: 'prod' }, image: 'nginx:1.27' });
    const b = add('web-2', { labels: { tier: 'front' }, image: 'nginx' });
    const c = add('db', { labels: { tier: 'back' }, image: 'postgres:16' });
    store.transition(a.id, 'start'); store.transition(a.id, 'exit', () => ({ exitCode: 0 }));
    store.transition(b.id, 'start'); store.transition(b.id, 'exit', () => ({ exitCode: 137 }));
    store.transition(c.id, 'start');
    const names = (f: Record<string, string[]>, all = true) => store.list({ all, filters: f }).map((r) => r.name);
    expect(names({ status: ['exited'] })).toEqual(['web-2', 'web-1']);
    expect(names({ status: ['running', 'exited'] })).toEqual(['db', 'web-2', 'web-1']);
    expect(names({ exited: ['137'] }, false)).toEqual(['web-2']);
    expect(names({ name: ['^web'] })).toEqual(['web-2', 'web-1']);
    expect(names({ label: ['tier=front', 'env'] })).toEqual(['web-1']);
    expect(names({ label: ['tier'] })).toEqual(['db', 'web-2', 'web-1']);
    expect(names({ id: [c.id.slice(0, 6)] })).toEqual(['db']);
    expect(names({ ancestor: ['nginx'] })).toEqual(['web-2']);
    expect(names({ ancestor: ['nginx:latest'] })).toEqual(['web-2']);
    expect(names({ ancestor: ['nginx:1.27'] })).toEqual(['web-1']);
    expect(names({ ancestor: ['abab'] })).toEqual(['db', 'web-2', 'web-1']);
    expect(names({ before: ['db'] })).toEqual(['web-2', 'web-1']);
    expect(names({ since: ['web-1'] })).toEqual(['db', 'web-2']);
    expect(names({ status: ['running'], name: ['web'] })).toEqual([]);
  });

  it('rejects unknown filters and bad values', () => {
    expect((catchErr(() => store.list({ filters: { colour: ['red'] } })) as Error).message).toMatch(/invalid filter "colour"/);
    expect((catchErr(() => store.list({ filters: { status: ['sleeping'] } })) as Error).message).toMatch(/status=sleeping/);
    expect((catchErr(() => store.list({ filters: { exited: ['x'] } })) as Error).message).toMatch(/exited=x/);
    expect((catchErr(() => store.list({ filters: { name: ['('] } })) as Error).message).toMatch(/regular expression/);
  });

  it('deletes records', () => {
    const c = add('web');
    store.delete(c.id);
    expect(isNotFound(catchErr(() => store.get(c.id)))).toBe(true);
  });
});

function catchErr(fn: () => unknown): unknown {
  try { fn(); } catch (e) { return e; }
  throw new Error('expected an error');
}
