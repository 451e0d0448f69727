// run/create's --mount, Docker's long form (cli/opts/mount.go): comma-
// separated key=value, type=bind|volume|tmpfs (default volume),
// source|src, target|destination|dst, readonly|ro[=true|false],
// bind-propagation, volume-nocopy, tmpfs-size, tmpfs-mode. Unlike -v, a
// bind source must exist (Docker's rule). Options berth does not do
// (volume-driver, volume-opt, bind-nonrecursive...) are refused by name.
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import type { MountSpec } from '@berth/container-config';
import type { FlagDef } from './command';
import { invalidFlagValue } from './command';
import { parseBytes } from './units';

export const MOUNT_FLAG: FlagDef = { name: 'mount', kind: 'list', description: 'Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=...,target=...[,readonly])' };

const bool = (v: string | undefined): boolean | undefined => (v === undefined || v === '' || v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : undefined);

export function parseMountFlag(v: string, cwd: string): MountSpec {
  const bad = (why: string) => invalidFlagValue(MOUNT_FLAG, v, why);
  const kv = new Map<string, string | undefined>();
  for (const part of v.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    kv.set((eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase(), eq < 0 ? undefined : part.slice(eq + 1));
  }
  const type = kv.get('type') ?? 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw bad(`mount type "${type}" is not supported by berth (bind, volume, tmpfs)`);
  let source = kv.get('source') ?? kv.get('src') ?? '';
  const target = kv.get('target') ?? kv.get('destination') ?? kv.get('dst') ?? '';
  if (!target.startsWith('/') || posix.normalize(target) === '/') throw bad('target must be an absolute path other than "/"');
  const ro = kv.has('readonly') ? kv.get('readonly') : kv.get('ro');
  const readOnly = kv.has('readonly') || kv.has('ro') ? bool(ro) : false;
  if (readOnly === undefined) throw bad(`readonly takes true or false, not "${ro}"`);
  const options: string[] = [];
  const known = new Set(['type', 'source', 'src', 'target', 'destination', 'dst', 'readonly', 'ro', 'consistency']);
  if (type === 'bind') {
    if (!source) throw bad('a bind mount needs a source');
    source = posix.resolve(cwd, source);
    if (!existsSync(source)) throw bad(`bind source path does not exist: ${source}`);
    const prop = kv.get('bind-propagation');
    if (prop !== undefined) {
      if (!/^r?(shared|slave|private)$/.test(prop)) throw bad(`bind-propagation "${prop}": expected shared, slave, private, rshared, rslave or rprivate`);
      options.push(prop);
    }
    known.add('bind-propagation');
  } else if (type === 'volume') {
    const nocopy = kv.has('volume-nocopy') ? bool(kv.get('volume-nocopy')) : false;
    if (nocopy === undefined) throw bad('volume-nocopy takes true or false');
    if (nocopy) options.push('nocopy');
    known.add('volume-nocopy');
  } else {
    if (source) throw bad('a tmpfs mount has no source');
    const size = kv.get('tmpfs-size');
    if (size !== undefined) {
      const n = parseBytes(size);
      if (n === null || n <= 0) throw bad(`tmpfs-size "${size}": expected a size such as 64m`);
      options.push(`size=${n}`);
    }
    const mode = kv.get('tmpfs-mode');
    if (mode !== undefined) {
      if (!/^[0-7]{3,4}$/.test(mode)) throw bad(`tmpfs-mode "${mode}": expected octal permissions such as 1777`);
      options.push(`mode=${mode}`);
    }
    known.add('tmpfs-size').add('tmpfs-mode');
  }
  for (const k of kv.keys()) if (!known.has(k)) throw bad(`option "${k}" is not supported by berth for a ${type} mount`);
  return { type, source: type === 'bind' ? posix.normalize(source) : source, target: posix.normalize(target), readOnly, options };
}
