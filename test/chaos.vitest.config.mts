import { defineProject } from 'vitest/config';
import { berthAliases, berthTestDefaults } from '../vitest.shared.mjs';

// The chaos test (chaos.test.ts: 200 lifecycles while services are SIGKILLed)
// runs on its own, `npm run test:chaos`, not in `npm test`: each failure it
// found was fixed at its cause, but it has not yet passed several runs in a
// row since the last fix, and a soak that is not yet known to be reliable
// must not decide whether everything else lands. docs/ARCHITECTURE.md
// ("Healing") says what it checks and what it found. `dir`: the includes are
// this directory's, wherever vitest is started from.
export default defineProject({
  resolve: { alias: berthAliases },
  test: { ...berthTestDefaults, name: 'chaos', dir: import.meta.dirname, include: ['chaos.test.ts'], fileParallelism: false },
});
