import { defineProject } from 'vitest/config';
import { berthAliases, berthTestDefaults } from '../../vitest.shared.mjs';

export default defineProject({
  resolve: { alias: berthAliases },
  test: { ...berthTestDefaults, name: 'app-cri', include: ['src/**/*.test.ts'] },
});
