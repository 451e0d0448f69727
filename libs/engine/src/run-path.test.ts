// The run path's ordering guarantees that its speed-ups rely on
// (docs/design/engine.md, "Run path latency"): Wait answers at the committed
// exit while the release runs behind it on the container's chain; the
// release deletes the process first, then the rest; recovery finishes a
// release an engine died in; every step is timed for the histogram.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from './engine';
import { recover } from './recovery';
import type { ManualClock } from './restart';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';
import { addTestImage, type RecordingPorts } from './testing/recording-ports';
import { defaultContainerConfig, defaultHostConfig } from './types';

const flush = () => new Promise((r) => setTimeout(r, 10));

describe('engine run path', () => {
  let f: EngineFixture;
  let ports: RecordingPorts;
  let engine: Engine;
  let clock: ManualClock;
  let steps: string[];
  beforeEach(() => {
    steps = [];
    f = engineFixture({ engine: { onStepTimed: (step, seconds) => { expect(seconds).toBeGreaterThanOrEqual(0); steps.push(step); } } });
    ({ ports, engine, clock } = f);
    addTestImage(ports, 'alpine', { cmd: ['/bin/true'], volumes: [] });
  });
  afterEach(() => f.close());

  it('Wait answers at the committed exit; the release follows on the chain, process first, before a queued remove', async () => {
    const c = await engine.run({ name: 'web', config: defaultContainerConfig('alpine'), hostConfig: defaultHostConfig() });
    // Hold the process delete (the first release step) until the test lets it go.
    let letGo!: () => void;
    const held = new Promise<void>((r) => { letGo = r; });
    const del = ports.namespaces.delete.bind(ports.namespaces);
    ports.namespaces.delete = async (id) => { await held; return del(id); };

    const waited = engine.wait(c.id);
    ports.exitProcess(c.id, { exitCode: 3 });
    expect(await waited).toBe(3);
    expect(engine.store.get(c.id).state).toBe('exited');
    expect(ports.rec.live.has(`process ${c.id}`)).toBe(true); // not released yet
    const removed = engine.remove(c.id);
    await flush();
    expect(ports.rec.calls).not.toContain(`layers.remove ${c.id}`); // queued behind the release

    letGo();
    await removed;
    const tail = ports.rec.calls.filter((x) => /^(namespaces\.delete|networks\.detach|networks\.removeHostsFiles|cgroups\.remove|layers\.remove) /.test(x));
    expect(tail[0]).toBe(`namespaces.delete ${c.id}`);
    expect(tail.slice(1, 4).sort()).toEqual([`cgroups.remove ${c.id}`, `networks.detach ${c.id}`, `networks.removeHostsFiles ${c.id}`]);
    expect(tail[4]).toBe(`layers.remove ${c.id}`);
    expect(ports.rec.live.size).toBe(0);
  });

  const order = (id: string) => ports.rec.calls.filter((x) => x.endsWith(` ${id}`) && /^(namespaces\.delete|layers\.remove|images\.removeContainerRef) /.test(x)).map((x) => x.split(' ')[0]);

  it('--rm: the root and the image ref go alongside the release, after the process delete, once', async () => {
    const c = await engine.run({ name: 'rm1', config: defaultContainerConfig('alpine'), hostConfig: { ...defaultHostConfig(), autoRemove: true } });
    const gone = engine.wait(c.id, 'removed');
    ports.exitProcess(c.id, { exitCode: 0 });
    await gone;
    expect(order(c.id)[0]).toBe('namespaces.delete');
    expect(order(c.id).slice(1).sort()).toEqual(['images.removeContainerRef', 'layers.remove']);
    expect(engine.list({ all: true })).toEqual([]);
    expect(ports.rec.live.size).toBe(0);
  });

  it('--rm: an early root release that fails is retried by the removal, which then completes', async () => {
    const c = await engine.run({ name: 'rm2', config: defaultContainerConfig('alpine'), hostConfig: { ...defaultHostConfig(), autoRemove: true } });
    ports.rec.failOn('layers.remove'); // once
    const gone = engine.wait(c.id, 'removed');
    ports.exitProcess(c.id, { exitCode: 0 });
    await gone;
    expect(ports.rec.calls.filter((x) => x === `layers.remove ${c.id}`)).toHaveLength(2);
    expect(engine.list({ all: true })).toEqual([]);
    expect(ports.rec.live.size).toBe(0);
  });

  it('rm -f of a running container releases the root alongside the runtime, after the process delete', async () => {
    const c = await engine.run({ name: 'rmf', config: defaultContainerConfig('alpine'), hostConfig: defaultHostConfig() });
    await engine.remove(c.id, { force: true });
    expect(order(c.id)[0]).toBe('namespaces.delete');
    expect(order(c.id).slice(1).sort()).toEqual(['images.removeContainerRef', 'layers.remove']);
    expect(engine.list({ all: true })).toEqual([]);
    expect(ports.rec.live.size).toBe(0);
  });

  it('times every step of a run, the exit, the release and the removal', async () => {
    const c = await engine.run({ name: 'rm', config: defaultContainerConfig('alpine'), hostConfig: { ...defaultHostConfig(), autoRemove: true } });
    const gone = engine.wait(c.id, 'removed');
    ports.exitProcess(c.id, { exitCode: 0 });
    await gone;
    await flush();
    // The whole list, in order: a step added to the saga (run-plan.ts) is added here too.
    expect(steps).toEqual([
      'resolveImage', 'prepareRoot', 'prepareVolumes',
      'mountRoot', 'createCgroup', 'createProcess', 'attachNetwork', 'connectNetworks', 'bindHostsResolv', 'start',
      'exitNotify', 'releaseRuntime', 'remove',
    ]);
  });

  it('a failed step is timed too, and the saga still undoes the earlier ones', async () => {
    ports.rec.failOn('networks.attach');
    await expect(engine.run({ name: 'bad', config: defaultContainerConfig('alpine'), hostConfig: defaultHostConfig() })).rejects.toThrow(/^attachNetwork: /);
    expect(steps).toContain('attachNetwork');
    expect([...ports.rec.live].filter((r) => !r.startsWith('rootfs ') && !r.startsWith('image-ref '))).toEqual([]);
  });

  it('recovery releases an exited container again (an engine that died between the exit commit and the release)', async () => {
    const c = await engine.run({ name: 'crashy', config: defaultContainerConfig('alpine'), hostConfig: defaultHostConfig() });
    engine.close(); // the exit below is not handled by this engine
    ports.exitProcess(c.id, { exitCode: 0 });
    // What handleExit commits before releasing, and nothing after it.
    engine.store.transition(c.id, 'exit', () => ({ exitCode: 0, finishedAt: clock.now(), pid: 0 }));
    expect(ports.rec.live.has(`process ${c.id}`)).toBe(true);
    expect(ports.rec.live.has(`cgroup ${c.id}`)).toBe(true);

    engine = f.reopen();
    await recover(engine);
    for (const r of ['process', 'cgroup', 'net', 'hosts']) expect(ports.rec.live.has(`${r} ${c.id}`)).toBe(false);
    expect(engine.store.get(c.id).state).toBe('exited');
  });
});
