// docker rm removes the container's state dir (log, hosts files), not only its record.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEngineDb, type Db } from './db';
import { ContainerStore } from './container-store';
import { Engine } from './engine';
import { ManualClock } from './restart';
import { defaultContainerConfig, defaultHostConfig } from './types';
import { VolumeStore } from './volumes';
import { addTestImage, recordingPorts } from './testing/recording-ports';

let dir: string;
let db: Db;
let engine: Engine;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-engine-'));
  db = openEngineDb(join(dir, 'engine.db'));
  const clock = new ManualClock();
  const ports = recordingPorts(() => clock.now());
  addTestImage(ports, 'alpine', { cmd: ['/bin/sh'], volumes: [] });
  engine = new Engine({ store: new ContainerStore(db), volumes: new VolumeStore(db, dir, () => clock.now()), ports, stateDir: dir, clock });
});
afterEach(() => {
  engine.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

it('rm -f removes the record and the container dir with its log', async () => {
  const c = await engine.run({ name: 'web', config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: defaultHostConfig() });
  const cdir = join(dir, 'containers', c.id);
  mkdirSync(cdir, { recursive: true });
  writeFileSync(join(cdir, 'container.log'), 'x\n');
  const other = join(dir, 'containers', 'f'.repeat(64));
  mkdirSync(other, { recursive: true });
  await engine.remove(c.id, { force: true });
  expect(engine.list({ all: true })).toEqual([]);
  expect(existsSync(cdir)).toBe(false);
  expect(existsSync(other)).toBe(true); // only its own
});
