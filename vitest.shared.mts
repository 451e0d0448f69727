// Shared vitest settings: tests import @berth/* libs from their TypeScript
// sources, so `vitest run` needs no prior build (apps started as child
// processes by cross-service tests still run from dist/).
import { readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname);
export const berthAliases = readdirSync(join(root, 'libs'))
  .filter((d) => existsSync(join(root, 'libs', d, 'src', 'index.ts')))
  .map((d) => ({ find: new RegExp(`^@berth/${d}$`), replacement: join(root, 'libs', d, 'src', 'index.ts') }));
