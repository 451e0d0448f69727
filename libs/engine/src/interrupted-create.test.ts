// A create an engine crash cut short (record inserted, no root recorded):
// a client retrying its create by the same name after the restart gets a new
// container, not the leftover (which is discarded with what it held), and
// recovery never discards a record this engine is creating right now.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnavailableError, isUnavailable } from '@berth/errors';
import { Engine, type CreateRequest } from './engine';
import type { ContainerEvent } from './events';
import { recover } from './recovery';
import { ManualClock } from './restart';
import { defaultContainerConfig, defaultHostConfig } from './types';
import { newContainerRecord } from './record';
import type { RecordingPorts } from './testing/recording-ports';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';

let f: EngineFixture;
let clock: ManualClock;
let ports: RecordingPorts;
let engine: Engine;
let events: ContainerEvent[];

/** An engine restart over the same files. */
function reopen(): void {
  engine = f.reopen();
}

beforeEach(() => {
  f = engineFixture({ prefix: 'berth-engine-ic-' });
  ({ clock, ports, engine, events } = f);
});
afterEach(() => f.close());

const req = (name: string): CreateRequest => ({
  name, config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: defaultHostConfig(),
});

describe('a create cut short by an engine crash', () => {
  it('a create retried by name replaces the leftover and releases what it held', async () => {
    const leftover = 'd'.repeat(64);
    engine.store.insert(newContainerRecord({ id: leftover, name: 'web', image: 'alpine', now: 1 }));
    await ports.layers.prepare(leftover, [], undefined);
    reopen();
    const c = await engine.create(req('web'));
    expect(c.id).not.toBe(leftover);
    expect(engine.list({ all: true }).map((r) => [r.id, r.name])).toEqual([[c.id, 'web']]);
    expect(ports.rec.calls).toContain(`layers.remove ${leftover}`);
    expect([...ports.rec.live].filter((k) => k.includes(leftover))).toEqual([]);
  });

  it('a name held by a complete container is still refused', async () => {
    await engine.create(req('web'));
    await expect(engine.create(req('web'))).rejects.toThrow(/already/);
  });

  it('recovery leaves alone a record this engine is creating right now', async () => {
    // A create in flight: hold it inside its saga while recovery runs.
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const prepare = ports.layers.prepare.bind(ports.layers);
    ports.layers.prepare = async (...a: Parameters<typeof prepare>) => { await gate; return prepare(...a); };
    const creating = engine.create(req('inflight'));
    await new Promise((r) => setImmediate(r));
    const acts = await recover(engine);
    expect(acts.filter((a) => a.discard)).toHaveLength(1); // decided, but not done
    release();
    const c = await creating;
    expect(engine.store.get(c.id).rootfs).not.toBe('');
  });

  it('a start cut short (process made, start never committed) is undone at recovery; the next start runs it', async () => {
    const c = await engine.create(req('half'));
    // The start fails at its last step and its rollback cannot reach the namespaces service either.
    for (const k of ['namespaces.start', 'namespaces.kill', 'namespaces.delete']) ports.rec.failOn(k, undefined, true);
    await expect(engine.start(c.id)).rejects.toThrow(/injected/);
    expect([...ports.rec.live]).toContain(`process ${c.id}`);
    ports.rec.failures.clear();
    reopen();
    await recover(engine);
    expect([...ports.rec.live].filter((k) => k.includes(c.id)).sort()).toEqual([`image-ref ${c.id}`, `rootfs ${c.id}`]);
    expect((await engine.start(c.id)).state).toBe('running');
  });

  it('a step cut by an unavailable service is undone too (its call may have taken effect); a retried start succeeds', async () => {
    const c = await engine.create(req('cut'));
    const attach = ports.networks.attach.bind(ports.networks);
    // The attach is made, then the service dies before it answers.
    ports.networks.attach = async (...a: Parameters<typeof attach>) => {
      await attach(...a);
      ports.networks.attach = attach;
      throw new UnavailableError('networks restarting');
    };
    await expect(engine.start(c.id)).rejects.toSatisfy(isUnavailable);
    expect(ports.rec.calls).toContain(`networks.detach ${c.id}`);
    expect([...ports.rec.live].filter((k) => k.startsWith('net ') || k.startsWith('process ') || k.startsWith('cgroup '))).toEqual([]);
    expect((await engine.start(c.id)).state).toBe('running');
  });
});

