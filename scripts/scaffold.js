#!/usr/bin/env node
// Creates the files every nx project in berth has: package.json (npm workspace),
// project.json (nx targets and tags), tsconfig.json (tsc -b project reference),
// vitest.config.mts and src/index.ts. Usage:
//   node scripts/scaffold.js libs/<name> --type util|service|driver [--deps a,b]
//   node scripts/scaffold.js apps/<name> --type app [--deps a,b]
// --deps names other berth libs (without the @berth/ scope); they become tsconfig
// references and package.json dependencies, so nx graph shows the real edges.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
const dir = args[0];
if (!dir || !/^(libs|apps)\/[a-z][a-z0-9-]*$/.test(dir)) {
  console.error('usage: scaffold.js libs/<name>|apps/<name> --type util|service|driver|app [--deps a,b]');
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const type = opt('--type', dir.startsWith('apps/') ? 'app' : 'util');
const deps = (opt('--deps', '') || '').split(',').filter(Boolean);
const name = path.basename(dir);
const root = path.resolve(__dirname, '..');
const abs = path.join(root, dir);
if (fs.existsSync(path.join(abs, 'project.json'))) {
  console.error(`${dir} already exists`);
  process.exit(1);
}
fs.mkdirSync(path.join(abs, 'src'), { recursive: true });
const write = (file, text) => {
  const p = path.join(abs, file);
  if (!fs.existsSync(p)) fs.writeFileSync(p, text);
};
const pkgName = dir.startsWith('apps/') ? `@berth/app-${name}` : `@berth/${name}`;
write('package.json', JSON.stringify({
  name: pkgName,
  version: '0.1.0',
  private: true,
  main: dir.startsWith('apps/') ? 'dist/main.js' : 'dist/index.js',
  types: dir.startsWith('apps/') ? 'dist/main.d.ts' : 'dist/index.d.ts',
  dependencies: Object.fromEntries(deps.map((d) => [`@berth/${d}`, '*'])),
}, null, 2) + '\n');
const projectName = dir.startsWith('apps/') ? `app-${name}` : name;
write('project.json', JSON.stringify({
  name: projectName,
  $schema: '../../node_modules/nx/schemas/project-schema.json',
  sourceRoot: `${dir}/src`,
  projectType: dir.startsWith('apps/') ? 'application' : 'library',
  tags: [`type:${type}`],
  targets: {
    build: { executor: 'nx:run-commands', options: { command: 'tsc -b', cwd: '{projectRoot}' } },
    typecheck: { executor: 'nx:run-commands', options: { command: 'tsc -b --noEmit false', cwd: '{projectRoot}' } },
    test: { executor: 'nx:run-commands', options: { command: 'vitest run', cwd: '{projectRoot}' } },
    lint: { executor: 'nx:run-commands', options: { command: 'eslint src', cwd: '{projectRoot}' } },
  },
}, null, 2) + '\n');
write('tsconfig.json', JSON.stringify({
  extends: '../../tsconfig.base.json',
  compilerOptions: { rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo' },
  include: ['src/**/*.ts'],
  exclude: ['src/**/*.test.ts'],
  references: deps.map((d) => ({ path: `../../libs/${d}` })),
}, null, 2) + '\n');
write('vitest.config.mts', `import { defineProject } from 'vitest/config';
import { berthAliases, berthTestDefaults } from '../../vitest.shared.mjs';

export default defineProject({
  resolve: { alias: berthAliases },
  test: { ...berthTestDefaults, name: '${projectName}', include: ['src/**/*.test.ts'] },
});
`);
if (dir.startsWith('apps/')) write('src/main.ts', `// ${pkgName}: composition root.\nexport {};\n`);
else write('src/index.ts', `// @berth/${name}\nexport {};\n`);
console.log(`created ${dir} (${pkgName}, type:${type})`);
