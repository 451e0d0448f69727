import { defineConfig } from 'vitest/config';

// One vitest run covers every project (each has its own vitest.config.ts) and
// the cross-service tests in test/.
export default defineConfig({
  test: {
    projects: ['libs/*/vitest.config.mts', 'apps/*/vitest.config.mts', 'test/vitest.config.mts'],
    testTimeout: 60_000,
    env: { BERTH_LOG_LEVEL: process.env.BERTH_LOG_LEVEL ?? 'warn' },
    hookTimeout: 120_000,
  },
});
