import { defineProject } from 'vitest/config';
import { berthAliases, berthTestDefaults } from '../vitest.shared.mjs';

// The chaos test (chaos.test.ts: 200 lifecycles while services are SIGKILLed)
// runs on its own, `npm run test:chaos`, not in `npm test`: it still fails in
// some runs (a clean-clone CI run lost it once), and a soak that is not yet
// reliable must not decide whether everything else lands. docs/ARCHITECTURE.md
// ("Healing") says what it checks and what is known.
export default defineProject({
  resolve: { alias: berthAliases },
  test: { ...berthTestDefaults, name: 'chaos', include: ['chaos.test.ts'], fileParallelism: false, testTimeout: 600_000 },
});
