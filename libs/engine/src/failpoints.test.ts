import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import type { Engine } from './engine';
import { FAILPOINT_LABEL, RUN_STEPS, parseFailpoints } from './failpoints';
import { createSteps, startSteps } from './run-plan';
import { defaultContainerConfig, defaultHostConfig } from './types';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';
import { recordingPorts, type RecordingPorts } from './testing/recording-ports';

describe('RUN_STEPS', () => {
  it('names every step of the run plan (a new step can be armed too)', () => {
    const p = recordingPorts();
    const names = [...createSteps(p).map((x) => x.name), 'prepareVolumes', ...startSteps(p).map((x) => x.name)];
    expect(names).toEqual([...RUN_STEPS]);
  });
});

describe('parseFailpoints', () => {
  it('reads a comma list of run steps; unset is none', () => {
    expect([...parseFailpoints(undefined)]).toEqual([]);
    expect([...parseFailpoints(' start, prepareRoot ')]).toEqual(['start', 'prepareRoot']);
  });
  it('refuses an unknown step, naming the variable and the accepted steps', () => {
    let err: unknown;
    try { parseFailpoints('start,bindHosts'); } catch (e) { err = e; }
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toMatch(/BERTH_ENGINE_FAILPOINTS: unknown step "bindHosts".*bindHostsResolv/);
  });
});

describe('engine with failpoints armed', () => {
  let f: EngineFixture;
  let ports: RecordingPorts;
  let engine: Engine;
  beforeEach(() => {
    f = engineFixture({ engine: { failpoints: new Set(RUN_STEPS) } });
    ({ ports, engine } = f);
  });
  afterEach(() => f.close());
  const req = (labels: Record<string, string>, autoRemove = true) => ({
    name: 'fp', config: { ...defaultContainerConfig('alpine'), cmd: null, labels }, hostConfig: { ...defaultHostConfig(), autoRemove },
  });

  it('runs an unlabelled container as usual', async () => {
    expect((await engine.run(req({}))).state).toBe('running');
  });

  for (const step of RUN_STEPS) {
    it(`fails at ${step} when labelled so, and (--rm) leaves nothing`, async () => {
      await expect(engine.run(req({ [FAILPOINT_LABEL]: step }))).rejects.toThrow(new RegExp(`^${step}: injected failure`));
      expect(engine.list({ all: true })).toEqual([]);
      expect([...ports.rec.live]).toEqual([]);
    });
  }

  it('a start failure without --rm keeps the created container (Docker) with the runtime rolled back', async () => {
    await expect(engine.run(req({ [FAILPOINT_LABEL]: 'bindHostsResolv' }, false))).rejects.toThrow(/bindHostsResolv: injected failure/);
    expect(engine.store.find('fp').state).toBe('created');
    expect([...ports.rec.live].map((x) => x.split(' ')[0]).sort()).toEqual(['image-ref', 'rootfs']);
  });
});
