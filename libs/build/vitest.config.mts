import { defineProject } from 'vitest/config';
import { berthAliases, berthTestDefaults } from '../../vitest.shared.mjs';

export default defineProject({
  resolve: { alias: berthAliases },
  test: { ...berthTestDefaults, name: 'build', include: ['src/**/*.test.ts'] },
});
