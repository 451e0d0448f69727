// Recovery copies the lines a container wrote while the engine was down into
// the engine's log before it releases (deletes) the process and its own log.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { recover } from './recovery';
import { ManualClock } from './restart';
import { defaultContainerConfig, defaultHostConfig } from './types';
import type { RecordingPorts } from './testing/recording-ports';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';

let f: EngineFixture;
let clock: ManualClock;
let ports: RecordingPorts;
beforeEach(() => {
  f = engineFixture();
  ({ clock, ports } = f);
});
afterEach(() => f.close());

it('a container that exited while the engine was down: its log is copied before the release', async () => {
  const first = f.engine;
  const c = await first.run({ name: 'ends', config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: defaultHostConfig() });
  const alive = await first.run({ name: 'lives', config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: defaultHostConfig() });
  first.close(); // the engine goes down before the process exits
  ports.processes.get(c.id)!.running = false;
  ports.processes.get(c.id)!.exit = { exitCode: 7, signal: '', oomKilled: false, exitedAt: clock.now() };
  ports.rec.calls.length = 0;
  const second = f.reopen();
  await recover(second);
  const calls = ports.rec.calls.filter((x) => x.endsWith(c.id));
  expect(calls.indexOf(`namespaces.mirrorLogs ${c.id}`)).toBeGreaterThanOrEqual(0);
  expect(calls.indexOf(`namespaces.mirrorLogs ${c.id}`)).toBeLessThan(calls.indexOf(`namespaces.delete ${c.id}`));
  expect(second.store.get(c.id)).toMatchObject({ state: 'exited', exitCode: 7 });
  // A live one is re-watched, not released (the service mirrors it after recovery).
  expect(ports.rec.calls).not.toContain(`namespaces.delete ${alive.id}`);
});

it('a container removed while recovery runs (the engine serves meanwhile) is left alone: no log copy makes its state dir again', async () => {
  const first = f.engine;
  const cfg = { config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: defaultHostConfig() };
  const older = await first.run({ name: 'older', ...cfg });
  const c = await first.run({ name: 'removed', ...cfg });
  first.close();
  for (const id of [older.id, c.id]) {
    ports.processes.get(id)!.running = false;
    ports.processes.get(id)!.exit = { exitCode: 3, signal: '', oomKilled: false, exitedAt: clock.now() };
  }
  const second = f.reopen();
  // Recovery takes the older one first and waits in its release; a client's rm of the other comes in between.
  const del = ports.namespaces.delete.bind(ports.namespaces);
  let go!: () => void;
  const gate = new Promise<void>((r) => { go = r; });
  ports.namespaces.delete = async (id) => { if (id === older.id) await gate; return del(id); };
  const recovering = recover(second);
  await new Promise((r) => setTimeout(r, 0));
  await second.remove(c.id, { force: true });
  ports.rec.calls.length = 0;
  go();
  await recovering;
  expect(ports.rec.calls.filter((x) => x.endsWith(c.id))).toEqual([]);
});
