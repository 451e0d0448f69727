// An attach holds the container's process state: the exit handling deletes it
// only after the attach ended (the race behind `berth run --rm` printing its
// output and then "container ... does not exist", exit 125).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from './engine';
import { RuntimeHolds } from './runtime-holds';
import { defaultContainerConfig, defaultHostConfig } from './types';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';
import type { RecordingPorts } from './testing/recording-ports';

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('RuntimeHolds', () => {
  it('a release waits for the holds, and refuses new ones while it runs', async () => {
    const h = new RuntimeHolds(60_000);
    const r1 = h.hold('a')!;
    const order: string[] = [];
    const rel = h.afterHolds('a', async () => { order.push('released'); });
    await flush();
    expect(order).toEqual([]);
    expect(h.hold('a')).toBeUndefined(); // under release: refused
    expect(h.hold('b')).toBeTypeOf('function'); // other containers unaffected
    r1();
    r1(); // idempotent
    await rel;
    expect(order).toEqual(['released']);
    expect(h.count('a')).toBe(0);
    expect(h.hold('a')).toBeTypeOf('function'); // after the release (a restarted process): allowed again
  });

  it('a reader that never ends delays the release by maxWaitMs only', async () => {
    const h = new RuntimeHolds(50);
    h.hold('a');
    const t0 = Date.now();
    await h.afterHolds('a', async () => undefined);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('engine: exit handling and an attach in progress', () => {
  let f: EngineFixture;
  let ports: RecordingPorts;
  let engine: Engine;
  beforeEach(() => {
    f = engineFixture();
    ({ ports, engine } = f);
  });
  afterEach(() => f.close());

  it('deletes the process only after the attach released it; --rm then removes', async () => {
    const c = await engine.run({ name: 'web', config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: { ...defaultHostConfig(), autoRemove: true } });
    const release = engine.holdRuntime(c.id)!;
    expect(release).toBeTypeOf('function');
    ports.exitProcess(c.id, { exitCode: 3 });
    await flush();
    expect(ports.rec.calls).not.toContain(`namespaces.delete ${c.id}`);
    // The exit is committed (Wait has its code) but the release waits for the attach.
    expect(engine.store.get(c.id).state).toBe('exited');
    expect(engine.holdRuntime(c.id)).toBeUndefined(); // a second attach now would race the delete: refused
    release();
    // The removal deletes the state dir (on the disk, off the event loop) before the record.
    await expect.poll(() => engine.list({ all: true })).toEqual([]);
    expect(ports.rec.calls).toContain(`namespaces.delete ${c.id}`);
    expect(ports.rec.live.size).toBe(0);
  });
});
