// Lint: typescript-eslint's recommended rules, plus nx's module boundaries so
// the architecture is a lint error rather than a convention:
//   type:app      may use service, driver and util libs — never another app
//   type:service  may use driver and util libs — never another service (services talk over gRPC)
//   type:driver   may use driver and util libs
//   type:util     may use util libs only
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/generated/**', '**/*.test.ts', '**/*.test-support.ts', '**/vitest.config.mts'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:service', 'type:driver', 'type:util'] },
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:driver', 'type:util'] },
            { sourceTag: 'type:driver', onlyDependOnLibsWithTags: ['type:driver', 'type:util'] },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
];
