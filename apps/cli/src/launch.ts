// How bin/berth starts the CLI: from its bundle when that is current, else
// from the module tree.
//
// The bundle (dist/berth.js, made by build-bundle.js with esbuild after
// `tsc -b`: `npm run build`, setup.sh) holds the CLI and the code of the
// workspace libs it uses in one file. A start then resolves, reads and
// compiles one file instead of ~130 modules, and evaluates a command's code
// only when that command runs (esbuild keeps each module behind its own lazy
// wrapper). Packages outside the hot path (grpc-js, nats, pino, koffi...) stay
// outside it and load from node_modules when a command needs them.
//
// Never stale: the bundle is used only while it is newer than every project
// build it was made from (their dist/.tsbuildinfo, which `tsc -b` rewrites
// when it emits that project) and than package-lock.json, as listed in
// dist/berth.bundle.json. After a `tsc -b` of a lib the CLI runs from
// dist/main.js, slower and current, until the bundle is built again.
// BERTH_CLI_BUNDLE=off runs from the module tree always.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { enableCompileCache } from './compile-cache';

/** dist/berth.bundle.json, written with the bundle. */
export interface BundleManifest {
  /** Files the bundle was built from whose change makes it stale, relative to the app directory. */
  builtFrom: string[];
}

export const BUNDLE_FILE = join('dist', 'berth.js');
export const BUNDLE_MANIFEST = join('dist', 'berth.bundle.json');

/**
 * The bundle of the CLI in `appDir` and its compile-cache key, when it exists
 * and is newer than everything it was built from; undefined otherwise.
 */
export function currentBundle(appDir: string): { file: string; key: string } | undefined {
  try {
    const file = join(appDir, BUNDLE_FILE);
    const st = statSync(file);
    const manifest = JSON.parse(readFileSync(join(appDir, BUNDLE_MANIFEST), 'utf8')) as BundleManifest;
    for (const p of manifest.builtFrom) if (statSync(join(appDir, p)).mtimeMs > st.mtimeMs) return undefined;
    // The build renames a new file into place: a new inode, size and mtime name new content.
    return { file, key: `bundle-${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeMs.toString(16)}` };
  } catch {
    return undefined; // no bundle (a tsc-only build), no manifest, or a listed build gone
  }
}

/** Runs the CLI of `appDir` on this process's argv. */
export function launch(appDir: string, env: NodeJS.ProcessEnv = process.env): void {
  const bundle = env.BERTH_CLI_BUNDLE === 'off' ? undefined : currentBundle(appDir);
  // V8's compiled code is kept between runs (about a fifth of a start's CPU);
  // BERTH_COMPILE_CACHE=<dir> moves it, =off disables it.
  if (env.BERTH_COMPILE_CACHE !== 'off') enableCompileCache(undefined, bundle ? new Map([[bundle.file, bundle.key]]) : undefined);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cli = require(bundle ? bundle.file : './main') as typeof import('./main');
  cli.run();
}
