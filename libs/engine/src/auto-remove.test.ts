// --rm as the engine's job (HostConfig.AutoRemove, Docker's semantics): the
// exit code stays readable through Wait for a waiter registered before the
// removal (condition=removed answers it too), RunAttached's runEnd resolves
// after the removal with that code, the beforeStart hook runs with the
// process created and not yet started, and a --rm container that exited
// while the engine was down (or whose removal the crash interrupted) is
// removed at recovery.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UnavailableError, isNotFound } from '@berth/errors';
import { Engine, type CreateRequest } from './engine';
import type { ContainerEvent } from './events';
import { recover } from './recovery';
import { ManualClock } from './restart';
import { defaultContainerConfig, defaultHostConfig, type HostConfig } from './types';
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
  f = engineFixture({ prefix: 'berth-engine-rm-' });
  ({ clock, ports, engine, events } = f);
});
afterEach(() => f.close());

const req = (host: Partial<HostConfig> = {}, name = 'rm'): CreateRequest => ({
  name, config: { ...defaultContainerConfig('alpine'), cmd: null }, hostConfig: { ...defaultHostConfig(), ...host },
});
const gone = (id: string) => {
  try {
    engine.store.get(id);
    return false;
  } catch (e) {
    return isNotFound(e);
  }
};

describe('AutoRemove (--rm) in the engine', () => {
  it('Wait answers the exit code to waiters registered before the removal, whatever the condition', async () => {
    const c = await engine.run(req({ autoRemove: true }));
    const notRunning = engine.wait(c.id, 'not-running');
    const nextExit = engine.wait(c.id, 'next-exit');
    const removed = engine.wait(c.id, 'removed');
    ports.exitProcess(c.id, { exitCode: 42 });
    await expect(notRunning).resolves.toBe(42);
    await expect(nextExit).resolves.toBe(42);
    await expect(removed).resolves.toBe(42);
    expect(gone(c.id)).toBe(true);
    // After the removal there is nothing to wait for (Docker: No such container).
    await expect(engine.wait(c.id, 'removed')).rejects.toSatisfy(isNotFound);
  });

  it('Wait(removed) on an exited container answers its recorded exit code when it is removed', async () => {
    const c = await engine.run(req({}, 'kept'));
    ports.exitProcess(c.id, { exitCode: 3 });
    await vi.waitFor(() => expect(engine.store.get(c.id).state).toBe('exited'));
    const removed = engine.wait(c.id, 'removed');
    await engine.remove(c.id);
    await expect(removed).resolves.toBe(3);
  });

  it('runEnd resolves after the removal, with the exit code; without --rm at the committed exit', async () => {
    const withRm = await engine.create(req({ autoRemove: true }));
    const end = engine.runEnd(withRm.id);
    await engine.start(withRm.id);
    ports.exitProcess(withRm.id, { exitCode: 7 });
    const r = await end;
    expect(r).toEqual({ exitCode: 7, oomKilled: false, removed: true });
    expect(gone(withRm.id)).toBe(true);
    expect(events.filter((e) => e.id === withRm.id).map((e) => e.action)).toEqual(['created', 'started', 'die', 'exited', 'removed']);

    const plain = await engine.create(req({}, 'plain'));
    const end2 = engine.runEnd(plain.id);
    await engine.start(plain.id);
    ports.exitProcess(plain.id, { exitCode: 0, oomKilled: true });
    await expect(end2).resolves.toEqual({ exitCode: 0, oomKilled: true, removed: false });
    expect(engine.store.get(plain.id).state).toBe('exited');
  });

  it('runEnd is abandoned by its signal (the client went away); the removal still happens', async () => {
    const c = await engine.create(req({ autoRemove: true }));
    const ac = new AbortController();
    const end = engine.runEnd(c.id, ac.signal);
    await engine.start(c.id);
    ac.abort();
    await expect(end).rejects.toThrow(/abandoned/);
    ports.exitProcess(c.id, { exitCode: 0 });
    // Until `removed`: the record goes first, the state dir after it; a removal
    // still running would announce into the next test.
    await vi.waitFor(() => expect(events.some((e) => e.id === c.id && e.action === 'removed')).toBe(true), { timeout: 10_000 });
    expect(gone(c.id)).toBe(true);
  });

  it('beforeStart runs with the process created and not yet started; its failure fails the start', async () => {
    const c = await engine.create(req());
    let seen = '';
    await engine.start(c.id, {
      beforeStart: async (id) => {
        const calls = ports.rec.calls.filter((k) => k.endsWith(id));
        seen = calls.map((k) => k.split(' ')[0]).filter((k) => k === 'namespaces.create' || k === 'namespaces.start').join(',');
      },
    });
    expect(seen).toBe('namespaces.create');
    const d = await engine.create(req({}, 'fails'));
    await expect(engine.start(d.id, { beforeStart: async () => { throw new Error('attach refused'); } })).rejects.toThrow(/attach refused/);
    expect(engine.store.get(d.id)).toMatchObject({ state: 'created', error: expect.stringMatching(/attach refused/) });
    expect(ports.rec.calls).toContain(`namespaces.delete ${d.id}`);
  });

  it('a --rm container that exited while the engine was down is removed at recovery', async () => {
    const c = await engine.run(req({ autoRemove: true }));
    engine.close();
    ports.processes.get(c.id)!.running = false;
    ports.processes.get(c.id)!.exit = { exitCode: 5, signal: '', oomKilled: false, exitedAt: clock.now() };
    reopen();
    events.length = 0;
    await recover(engine);
    expect(gone(c.id)).toBe(true);
    expect(events.map((e) => e.action + (e.exitCode !== undefined ? `(${e.exitCode})` : ''))).toEqual(['die(5)', 'exited(5)', 'removed']);
    expect(ports.rec.live.size).toBe(0);
  });

  it('a --rm container whose removal an engine crash interrupted (exit committed) is removed at recovery', async () => {
    const c = await engine.run(req({ autoRemove: true }));
    // The exit committed, then the engine died before the removal.
    engine.store.transition(c.id, 'exit', () => ({ exitCode: 1, finishedAt: clock.now(), pid: 0 }));
    engine.close();
    ports.processes.get(c.id)!.running = false;
    ports.processes.get(c.id)!.exit = { exitCode: 1, signal: '', oomKilled: false, exitedAt: clock.now() };
    reopen();
    await recover(engine);
    expect(gone(c.id)).toBe(true);
    expect(ports.rec.live.size).toBe(0);
  });

  it('exit handling and --rm wait out a service being restarted (UNAVAILABLE) instead of leaving things held', async () => {
    const c = await engine.run(req({ autoRemove: true }));
    // The namespaces and cgroups services are being restarted when the exit comes: their release calls fail once.
    const removed = engine.wait(c.id, 'removed');
    ports.rec.failOn('namespaces.delete', new UnavailableError('namespaces restarting'));
    ports.rec.failOn('cgroups.remove', new UnavailableError('cgroups restarting'));
    ports.exitProcess(c.id, { exitCode: 4 });
    await expect(removed).resolves.toBe(4);
    expect(gone(c.id)).toBe(true);
    expect(ports.rec.live.size).toBe(0);
  });
});
