// The CLI as a V8 startup snapshot (node --build-snapshot): its modules
// loaded and every gRPC message codec set up once, at build time, then saved
// as a heap image that `node --snapshot-blob berth.blob <args>` starts from.
// A start then skips loading and compiling ~1 MB of JavaScript and reading
// ~300 codec files: `berth version` costs little more than Node's own start.
//
// scripts/build-snapshot.js bundles this file (esbuild: a snapshot builder
// can require Node's built-in modules only), wraps the bundle so that its
// `require` of a package left outside the bundle (koffi, nats, grpc-js: only
// daemon, events and TCP addresses need them) resolves from the tree at run
// time, and writes dist/berth-<node version>.blob. The `berth` launcher on
// PATH (scripts/setup.sh) starts from the blob when it is newer than the CLI
// build, else runs bin/berth as before.
//
// Nothing here may capture the environment, argv or stdio at build time:
// each is read when a command runs (run() below is called at start).
import { readFileSync } from 'node:fs';
import { preloadCompiled } from '@berth/proto';

/* eslint-disable @typescript-eslint/no-require-imports -- the same modules main.ts loads lazily, loaded now for the heap image */
/** Loads every command module and sets up every codec, from the generated protos in `generatedDir`. */
export function prepare(generatedDir: string): void {
  preloadCompiled(generatedDir, (file) => {
    const m = { exports: {} as unknown };
    // The generated codec modules are CommonJS of one `module.exports = function (...)`.
    new Function('module', 'exports', readFileSync(file, 'utf8'))(m, m.exports);
    return m.exports;
  });
  require('./context');
  require('./commands/containers');
  require('./commands/images');
  require('./commands/networks');
  require('./commands/volumes');
  require('./commands/system');
  // Not cp (tar and sys, whose koffi is a native addon) nor daemon/events
  // (nats): they load from the tree when they run.
}

/** Runs the CLI on the process's arguments (in a snapshot start, argv has no script path: [node, ...args]). */
export function start(): void {
  process.argv.splice(1, 0, 'berth');
  (require('./main') as typeof import('./main')).run();
}
/* eslint-enable @typescript-eslint/no-require-imports */
