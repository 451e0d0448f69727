// Runs one CNI plugin binary: the CNI_* environment, the network config on
// stdin, a result or a CNI error object on stdout. Plugins are looked up in a
// CNI_PATH list, first hit wins, as libcni's FindInPath does.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BerthError, ErrorCode, InvalidArgumentError, NotFoundError,
} from '@berth/errors';
import type { CniCommand, CniRuntimeConf } from './types';
import { helperEnv } from '../orphans';

const found = new Map<string, string>();

/** Absolute path of plugin `type` in the first dir of `path` holding it. */
export async function findPlugin(type: string, path: string[]): Promise<string> {
  if (!/^[A-Za-z0-9._-]+$/.test(type)) {
    throw new InvalidArgumentError(`CNI plugin type "${type}" is not a plain binary name`, { field: 'type' });
  }
  const key = `${path.join(':')}\0${type}`;
  const hit = found.get(key);
  if (hit) return hit;
  for (const dir of path) {
    const p = join(dir, type);
    try {
      await access(p, constants.X_OK);
      found.set(key, p);
      return p;
    } catch { /* next dir */ }
  }
  throw new NotFoundError(`CNI plugin "${type}" not found in CNI path ${path.join(':')}; install it or add its directory to cniPath`, { field: 'type' });
}

// CNI error codes (SPEC.md "Error") -> berth kinds.
function kindForCniCode(code: number): ErrorCode {
  switch (code) {
    case 1: case 2: case 4: case 6: case 7: return ErrorCode.InvalidArgument;
    case 3: return ErrorCode.NotFound;
    case 11: return ErrorCode.Unavailable;
    default: return ErrorCode.Internal;
  }
}

/**
 * Invokes a plugin and returns its parsed stdout (undefined when empty, as
 * DEL and CHECK answer). A non-zero exit becomes a berth error carrying the
 * plugin's msg and details.
 */
export async function execPlugin(
  pluginPath: string, command: CniCommand, conf: object, rt: CniRuntimeConf, cniPath: string[], timeoutMs = 30_000,
): Promise<unknown> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netns,
    CNI_IFNAME: rt.ifName,
    CNI_PATH: cniPath.join(':'),
  };
  if (rt.args?.length) env.CNI_ARGS = rt.args.map(([k, v]) => `${k}=${v}`).join(';');
  const input = JSON.stringify(conf);
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(pluginPath, [], { env: helperEnv(env), stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (c, sig) => resolve({
      code: c ?? (sig ? 128 : 1),
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    }));
    child.stdin.on('error', () => { /* plugin exited before reading: the exit code says why */ });
    child.stdin.end(input);
  });
  const what = `CNI ${command} with plugin ${pluginPath} for container ${rt.containerId} (${rt.ifName})`;
  if (code !== 0) {
    let msg = stderr.trim() || `exit status ${code}`;
    let kind: ErrorCode = ErrorCode.Internal;
    try {
      const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
      if (e.msg) msg = e.details ? `${e.msg}: ${e.details}` : e.msg;
      if (typeof e.code === 'number') kind = kindForCniCode(e.code);
    } catch { /* not JSON: keep stderr */ }
    throw new BerthError(kind, `${what} failed: ${msg}`);
  }
  if (!stdout.trim()) return undefined;
  try {
    return JSON.parse(stdout);
  } catch (e) {
    throw new BerthError(ErrorCode.Internal, `${what} printed a result that is not JSON: ${stdout.slice(0, 200)}`, { cause: e });
  }
}
