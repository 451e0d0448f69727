// docker rm removes the container's state dir (log, hosts files), not only its record.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from './engine';
import { defaultContainerConfig, defaultHostConfig } from './types';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';

let f: EngineFixture;
let dir: string;
let engine: Engine;
beforeEach(() => {
  f = engineFixture();
  ({ dir, engine } = f);
});
afterEach(() => f.close());

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
