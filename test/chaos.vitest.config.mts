import { defineProject } from 'vitest/config';
import { berthAliases, berthTestDefaults } from '../vitest.shared.mjs';

// The chaos test (chaos.test.ts: 200 lifecycles while services are SIGKILLed)
// runs on its own, `npm run test:chaos`, not in `npm test`: each failure it
// found was fixed at its cause and it has passed seven runs in a row since
// the last fix, but it takes 2-4.5 min on two CPUs at a load of 10-16 and
// 11-13 at CI's load, too long for the suite every change runs. docs/ARCHITECTURE.md
// ("Healing") says what it checks and what it found. `dir`: the includes are
// this directory's, wherever vitest is started from.
export default defineProject({
  resolve: { alias: berthAliases },
  test: { ...berthTestDefaults, name: 'chaos', dir: import.meta.dirname, include: ['chaos.test.ts'], fileParallelism: false },
});
