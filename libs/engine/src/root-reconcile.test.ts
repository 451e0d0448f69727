// Writable roots the layers service keeps that no container owns
// (root-reconcile.ts): removed at reconcile, by itself after a layers call
// whose outcome is unknown; a root of a create in flight is kept.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '@berth/errors';
import type { CreateRequest, Engine } from './engine';
import { defaultContainerConfig, defaultHostConfig } from './types';
import type { RecordingPorts } from './testing/recording-ports';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';

let f: EngineFixture;
let ports: RecordingPorts;
let engine: Engine;
let clock: EngineFixture['clock'];

beforeEach(() => {
  f = engineFixture({ prefix: 'berth-engine-roots-' });
  ({ ports, engine, clock } = f);
});
afterEach(() => f.close());

const req = (name: string): CreateRequest => ({
  name, config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: defaultHostConfig(),
});
const roots = () => [...ports.rec.live].filter((k) => k.startsWith('rootfs ')).map((k) => k.slice(7)).sort();

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`never: ${what}`);
}

describe('writable roots no container owns', () => {
  it('are removed; the roots of containers are kept', async () => {
    const kept = await engine.create(req('kept'));
    const orphan = 'a'.repeat(64);
    await ports.layers.prepare(orphan, [], undefined); // made, its create gone (an engine killed, a lost reply)
    expect(await engine.reconcileRoots()).toEqual([orphan]);
    expect(roots()).toEqual([kept.id]);
    expect(ports.rec.calls).toContain(`layers.remove ${orphan}`);
    expect(await engine.reconcileRoots()).toEqual([]);
  });

  it('the root of a create still in flight (no record committed yet) is kept, and the create completes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const prepare = ports.layers.prepare.bind(ports.layers);
    let prepared = false;
    // The root exists, the create has not recorded it yet.
    ports.layers.prepare = async (...a: Parameters<typeof prepare>) => {
      const r = await prepare(...a);
      prepared = true;
      await gate;
      return r;
    };
    const creating = engine.create(req('inflight'));
    await until('root prepared', () => prepared);
    expect(await engine.reconcileRoots()).toEqual([]);
    release();
    const c = await creating;
    expect(engine.store.get(c.id).rootfs).not.toBe('');
    expect(roots()).toEqual([c.id]);
  });

  it('after a layers call failed with an unknown outcome, the engine removes them by itself once the service answers', async () => {
    const c = await engine.create(req('cut'));
    const orphan = 'b'.repeat(64);
    await ports.layers.prepare(orphan, [], undefined);
    // The layers service is being restarted: the start's mount fails UNAVAILABLE
    // (a start well after the create mounts the root again; one right after it does not).
    clock.advance(60_000);
    ports.rec.failOn('layers.mount', new UnavailableError('layers service restarting'));
    await expect(engine.start(c.id)).rejects.toThrow(/restarting/);
    await until('orphan removed', () => !roots().includes(orphan));
    expect(roots()).toEqual([c.id]);
  });
});
