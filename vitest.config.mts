import { defineConfig } from 'vitest/config';

// One vitest run covers every project (each has its own vitest.config.mts,
// spreading berthTestDefaults from vitest.shared.mts) and the cross-service
// tests in test/.
export default defineConfig({
  test: {
    projects: ['libs/*/vitest.config.mts', 'apps/*/vitest.config.mts', 'test/vitest.config.mts'],
  },
});
