// The setup the engine's unit tests share: an Engine over the recording port
// doubles (recording-ports.ts), a SQLite store in a fresh temp dir, a manual
// clock, and the events it emitted. `reopen()` is an engine restart over the
// same files; `close()` removes everything.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerStore } from '../container-store';
import { openEngineDb, type Db } from '../db';
import { Engine, type EngineOptions } from '../engine';
import type { ContainerEvent } from '../events';
import { ManualClock } from '../restart';
import { VolumeStore } from '../volumes';
import { addTestImage, recordingPorts, type RecordingPorts } from './recording-ports';

export interface EngineFixture {
  dir: string;
  db: Db;
  clock: ManualClock;
  ports: RecordingPorts;
  engine: Engine;
  /** Every event the engine emitted, in order (across reopen). */
  events: ContainerEvent[];
  /** Closes the engine and its database and opens both again over the same files. */
  reopen(): Engine;
  /** Closes the engine and the database and removes the temp dir. */
  close(): void;
}

export interface EngineFixtureOptions {
  /** Temp dir prefix (default berth-engine-). */
  prefix?: string;
  /** Adds the image "alpine" (cmd /bin/sh, no volumes) to the doubles; default true. */
  alpine?: boolean;
  /** More engine options (failpoints, onStepTimed...). */
  engine?: Partial<EngineOptions>;
}

export function engineFixture(opts: EngineFixtureOptions = {}): EngineFixture {
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'berth-engine-'));
  const clock = new ManualClock();
  const ports = recordingPorts(() => clock.now());
  if (opts.alpine ?? true) addTestImage(ports, 'alpine', { cmd: ['/bin/sh'], volumes: [] });
  const events: ContainerEvent[] = [];
  const open = (db: Db): Engine => {
    const e = new Engine({ store: new ContainerStore(db), volumes: new VolumeStore(db, dir, () => clock.now()), ports, stateDir: dir, clock, ...opts.engine });
    e.events.on('event', (ev: ContainerEvent) => events.push(ev));
    return e;
  };
  const db = openEngineDb(join(dir, 'engine.db'));
  const f: EngineFixture = {
    dir, db, clock, ports, events, engine: open(db),
    reopen() {
      f.engine.close();
      f.db.close();
      f.db = openEngineDb(join(dir, 'engine.db'));
      f.engine = open(f.db);
      return f.engine;
    },
    close() {
      f.engine.close();
      try { f.db.close(); } catch { /* closed by the test */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return f;
}
