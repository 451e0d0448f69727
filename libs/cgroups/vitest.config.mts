import { defineProject } from 'vitest/config';
import { berthAliases } from '../../vitest.shared.mjs';

export default defineProject({
  resolve: { alias: berthAliases },
  test: { name: 'cgroups', include: ['src/**/*.test.ts'] },
});
