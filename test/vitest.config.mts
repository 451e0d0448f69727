import { defineProject } from 'vitest/config';
import { berthAliases, berthTestDefaults } from '../vitest.shared.mjs';

// Cross-service and end-to-end tests: they start real services (from dist/)
// and real kernel objects, so they run one file at a time. chaos.test.ts runs
// after them, alone (chaos.vitest.config.mts; scripts/test.sh, `npm run test:chaos`).
export default defineProject({
  resolve: { alias: berthAliases },
  test: { ...berthTestDefaults, name: 'e2e', include: ['**/*.test.ts'], exclude: ['chaos.test.ts', '**/node_modules/**'], fileParallelism: false },
});
