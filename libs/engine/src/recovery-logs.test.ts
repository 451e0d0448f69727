// Recovery copies the lines a container wrote while the engine was down into
// the engine's log before it releases (deletes) the process and its own log.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEngineDb, type Db } from './db';
import { ContainerStore } from './container-store';
import { Engine } from './engine';
import { recover } from './recovery';
import { ManualClock } from './restart';
import { defaultContainerConfig, defaultHostConfig } from './types';
import { VolumeStore } from './volumes';
import { addTestImage, recordingPorts, type RecordingPorts } from './testing/recording-ports';

let dir: string;
let db: Db;
let clock: ManualClock;
let ports: RecordingPorts;
const mk = () => new Engine({ store: new ContainerStore(db), volumes: new VolumeStore(db, dir, () => clock.now()), ports, stateDir: dir, clock });
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-engine-'));
  db = openEngineDb(join(dir, 'engine.db'));
  clock = new ManualClock();
  ports = recordingPorts(() => clock.now());
  addTestImage(ports, 'alpine', { cmd: ['/bin/sh'], volumes: [] });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a container that exited while the engine was down: its log is copied before the release', async () => {
  const first = mk();
  const c = await first.run({ name: 'ends', config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: defaultHostConfig() });
  const alive = await first.run({ name: 'lives', config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: defaultHostConfig() });
  first.close();
  ports.processes.get(c.id)!.running = false;
  ports.processes.get(c.id)!.exit = { exitCode: 7, signal: '', oomKilled: false, exitedAt: clock.now() };
  ports.rec.calls.length = 0;
  const second = mk();
  await recover(second);
  const calls = ports.rec.calls.filter((x) => x.endsWith(c.id));
  expect(calls.indexOf(`namespaces.mirrorLogs ${c.id}`)).toBeGreaterThanOrEqual(0);
  expect(calls.indexOf(`namespaces.mirrorLogs ${c.id}`)).toBeLessThan(calls.indexOf(`namespaces.delete ${c.id}`));
  expect(second.store.get(c.id)).toMatchObject({ state: 'exited', exitCode: 7 });
  // A live one is re-watched, not released (the service mirrors it after recovery).
  expect(ports.rec.calls).not.toContain(`namespaces.delete ${alive.id}`);
  second.close();
});
