import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlreadyExists, isFailedPrecondition, isNotFound } from '@berth/errors';
import { openEngineDb, type Db } from './db';
import { ContainerStore } from './container-store';
import { newContainerRecord } from './record';
import { ANONYMOUS_LABEL, diskUsage, VolumeStore } from './volumes';

let dir: string;
let db: Db;
let vols: VolumeStore;
let containers: ContainerStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-volumes-'));
  db = openEngineDb(join(dir, 'engine.db'));
  vols = new VolumeStore(db, dir, () => 42);
  containers = new ContainerStore(db);
});
afterEach(() => { db.close(); rmSync(dir, { recursive: true, force: true }); });

const catchErr = (fn: () => unknown): unknown => { try { fn(); } catch (e) { return e; } throw new Error('expected an error'); };

describe('volumes', () => {
  it('create makes the data dir; same name and options is idempotent; different options refused', () => {
    const v = vols.create({ name: 'data', labels: { a: 'b' } });
    expect(v).toMatchObject({ name: 'data', driver: 'local', mountpoint: join(dir, 'volumes', 'data', '_data'), labels: { a: 'b' }, createdAt: 42, anonymous: false });
    expect(existsSync(v.mountpoint)).toBe(true);
    expect(vols.create({ name: 'data' }).createdAt).toBe(42);
    expect(isAlreadyExists(catchErr(() => vols.create({ name: 'data', options: { size: '1g' } })))).toBe(true);
    expect(() => vols.create({ name: 'x' })).toThrow(/invalid volume name "x"/);
    expect(() => vols.create({ name: 'ok1', options: { colour: 'red' } })).toThrow(/invalid volume option "colour"/);
  });
  it('anonymous volumes get 64-hex names and the anonymous label', () => {
    const v = vols.create();
    expect(v.name).toMatch(/^[0-9a-f]{64}$/);
    expect(v.labels).toHaveProperty(ANONYMOUS_LABEL);
  });
  it('removal refused while in use, survives reopen, then works', () => {
    vols.create({ name: 'data' });
    const c = containers.insert(newContainerRecord({ id: 'c'.repeat(64), name: 'web', image: 'alpine', now: 1 }));
    vols.addRef('data', c.id);
    db.close();
    db = openEngineDb(join(dir, 'engine.db'));
    vols = new VolumeStore(db, dir);
    containers = new ContainerStore(db);
    const e = catchErr(() => vols.remove('data'));
    expect(isFailedPrecondition(e)).toBe(true);
    expect((e as Error).message).toBe('volume data is in use by container(s) cccccccccccc; remove the container(s) first');
    containers.delete(c.id); // refs cascade with the container
    vols.remove('data');
    expect(existsSync(join(dir, 'volumes', 'data'))).toBe(false);
    expect(isNotFound(catchErr(() => vols.remove('data')))).toBe(true);
    vols.remove('data', { force: true });
  });
  it('list filters and prune (anonymous only unless all) with space reclaimed', () => {
    const anon = vols.create();
    vols.create({ name: 'named', labels: { keep: 'yes' } });
    vols.create({ name: 'used' });
    const c = containers.insert(newContainerRecord({ id: 'd'.repeat(64), name: 'web', image: 'alpine', now: 1 }));
    vols.addRef('used', c.id);
    writeFileSync(join(anon.mountpoint, 'blob'), Buffer.alloc(64 * 1024, 1));
    expect(vols.list({ dangling: ['true'] }).map((v) => v.name).sort()).toEqual([anon.name, 'named'].sort());
    expect(vols.list({ label: ['keep=yes'] }).map((v) => v.name)).toEqual(['named']);
    expect(vols.list({ name: ['us'] }).map((v) => v.name)).toEqual(['used']);
    expect(() => vols.list({ dangling: ['maybe'] })).toThrow(/dangling=maybe/);
    const p = vols.prune();
    expect(p.deleted).toEqual([anon.name]);
    expect(p.spaceReclaimed).toBeGreaterThanOrEqual(64 * 1024);
    expect(vols.prune({ all: true }).deleted).toEqual(['named']);
    expect(vols.list().map((v) => v.name)).toEqual(['used']);
  });
  it('diskUsage counts hard links once and missing paths as 0', () => {
    const v = vols.create({ name: 'links' });
    writeFileSync(join(v.mountpoint, 'a'), Buffer.alloc(128 * 1024, 1));
    const one = diskUsage(v.mountpoint);
    linkSync(join(v.mountpoint, 'a'), join(v.mountpoint, 'b'));
    expect(diskUsage(v.mountpoint)).toBe(one);
    expect(one).toBeGreaterThanOrEqual(128 * 1024);
    expect(diskUsage(join(dir, 'nope'))).toBe(0);
  });
});
