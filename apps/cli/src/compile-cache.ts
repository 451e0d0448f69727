// A V8 code cache for the CLI's CommonJS modules. Node 20 compiles the source
// of every module at every start (Node 22's module.enableCompileCache() does
// not exist here): for `berth run` that is ~45 ms of its ~210 ms of CPU, most
// of it grpc-js and protobufjs. This keeps V8's cached data of each module in
// a directory and hands it back to V8 on the next start, as Node 22's cache
// and the v8-compile-cache package do.
//
// Safety: the cache file of a module is named by a hash of its path and its
// whole source, so an edited or rebuilt file never meets an old entry; V8
// itself rejects data made by another V8 version or flags
// (script.cachedDataRejected), and the entry is then rewritten. Entries are
// written at exit, each to a temporary name renamed into place, so concurrent
// CLIs never read a half-written file. Any failure to read or write the cache
// only costs the speed-up: the module is compiled as usual.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script, constants as vmConstants } from 'node:vm';

/**
 * The cache entry's name: two independent 32-bit FNV-1a hashes (different
 * offsets) of path and source, plus the source's length. Loading node:crypto
 * for a SHA-1 cost a CLI start more than the cache saved on small commands
 * (~10 ms at idle); this reads each character once in JavaScript. A
 * collision would need the same path, length and both hashes, and V8 still
 * checks the cached data against the source it is given (cachedDataRejected).
 */
export function sourceKey(filename: string, content: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const mix = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
  };
  mix(filename);
  mix('\0');
  mix(content);
  return `${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}-${content.length.toString(16)}`;
}

/** Where the cache lives: BERTH_COMPILE_CACHE, else $XDG_CACHE_HOME/berth or ~/.cache/berth, per Node version. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BERTH_COMPILE_CACHE) return env.BERTH_COMPILE_CACHE;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'berth', `v8-${process.version}-${process.arch}`);
}

interface InternalModule {
  exports: unknown;
  filename: string;
  require(id: string): unknown;
}
interface ModuleStatics {
  _resolveFilename(request: string, parent: InternalModule, isMain: boolean, options?: unknown): string;
  _resolveLookupPaths(request: string, parent: InternalModule): string[] | null;
  _extensions: unknown;
  _cache: unknown;
  wrap(source: string): string;
  prototype: { _compile(content: string, filename: string): unknown };
}

let enabled = false;

/**
 * Installs the cache for every CommonJS module loaded from now on in this
 * process. Returns the directory used, or undefined when it cannot be created
 * (the CLI then runs uncached). `keys` names the entries of files whose
 * identity the caller already knows (the CLI's bundle, ~0.9 MB, written by
 * rename at each build: its inode, size and mtime), so their source is not
 * hashed character by character at every start.
 */
export function enableCompileCache(dir = compileCacheDir(), keys: ReadonlyMap<string, string> = new Map()): string | undefined {
  if (enabled) return dir;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return undefined;
  }
  enabled = true;
  const M = Module as unknown as ModuleStatics;
  const pending: { file: string; script: Script }[] = [];

  M.prototype._compile = function compileCached(this: InternalModule, content: string, filename: string): unknown {
    const file = join(dir, keys.get(filename) ?? sourceKey(filename, content));
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(file);
    } catch {
      cachedData = undefined;
    }
    // The wrapper Node puts around every CommonJS module; a hashbang line is
    // legal only at the very start of a script, so it becomes a comment.
    const source = M.wrap(content.startsWith('#!') ? `//${content.slice(2)}` : content);
    const script = new Script(source, { filename, cachedData, importModuleDynamically: vmConstants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
    if (!cachedData || script.cachedDataRejected) pending.push({ file, script });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;

    // The `require` Node gives a module (makeRequireFunction in Node's loader).
    const require = ((id: string) => this.require(id)) as NodeJS.Require;
    const resolve = ((request: string, options?: unknown) => M._resolveFilename(request, this, false, options)) as NodeJS.RequireResolve;
    resolve.paths = (request: string) => M._resolveLookupPaths(request, this);
    Object.assign(require, { resolve, main: process.mainModule, extensions: M._extensions, cache: M._cache });
    return wrapper.call(this.exports, this.exports, require, this, filename, dirname(filename));
  };

  process.once('exit', () => {
    for (const { file, script } of pending) {
      try {
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, file);
      } catch {
        // a full disk or a read-only cache: the next start compiles again
      }
    }
  });
  return dir;
}
