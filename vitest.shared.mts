// Shared vitest settings for every project: tests import @berth/* libs from
// their TypeScript sources, so `vitest run` needs no prior build (apps
// started as child processes by cross-service tests still run from dist/).
import { readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname);
export const berthAliases = readdirSync(join(root, 'libs'))
  .filter((d) => existsSync(join(root, 'libs', d, 'src', 'index.ts')))
  .map((d) => ({ find: new RegExp(`^@berth/${d}$`), replacement: join(root, 'libs', d, 'src', 'index.ts') }))
  // Subpath entries (package.json "exports") map to their sources too.
  .concat([
    { find: /^@berth\/kit\/client$/, replacement: join(root, 'libs', 'kit', 'src', 'client-entry.ts') },
    { find: /^@berth\/cli-kit\/start$/, replacement: join(root, 'libs', 'cli-kit', 'src', 'start-entry.ts') },
  ]);

/** Test options every project shares (file projects do not inherit the root config). */
export const berthTestDefaults = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
  env: { BERTH_LOG_LEVEL: process.env.BERTH_LOG_LEVEL ?? 'warn' },
};
