import { defineProject } from 'vitest/config';
import { berthAliases, berthTestDefaults } from '../vitest.shared.mjs';

// The chaos test (chaos.test.ts: 200 lifecycles while services are SIGKILLed)
// runs on its own config, after the rest of `npm test` (scripts/test.sh) or
// alone with `npm run test:chaos`: it takes 2-4.5 min on two CPUs at a load of
// 10-16, and a test beside it would only measure the contention. Each failure
// it found was fixed at its cause; docs/ARCHITECTURE.md ("Healing") says what
// it checks and what it found. `dir`: the includes are this directory's,
// wherever vitest is started from.
export default defineProject({
  resolve: { alias: berthAliases },
  test: { ...berthTestDefaults, name: 'chaos', dir: import.meta.dirname, include: ['chaos.test.ts'], fileParallelism: false },
});
