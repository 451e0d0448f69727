// docker run --log-driver / --log-opt, as Docker's json-file driver takes
// them (daemon/logger/jsonfilelog): max-size in bytes with binary units
// ("10m" = 10 MiB; "-1" = never rotate) and max-file, the files kept. berth
// writes one format, the CRI log Podman calls k8s-file; "json-file" is taken
// as another name for it so Docker scripts run unchanged. path (Podman's
// k8s-file option) puts the log at an absolute path of the caller's choice
// (kubelet's log_directory/log_path through the CRI).
import { InvalidArgumentError } from '@berth/errors';
import { DEFAULT_LOG_MAX_FILES, DEFAULT_LOG_MAX_SIZE } from './read';

export const LOG_DRIVERS = ['k8s-file', 'json-file'] as const;
const LOG_OPTS = ['max-size', 'max-file', 'path'];

export interface LogBounds {
  /** Bytes per file before rotating; 0 = never rotate. */
  maxSize: number;
  /** Files kept, the current one included. */
  maxFiles: number;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * The rotation bounds a log config asks for (defaults where it is silent).
 * Errors name the driver or option (field, e.g. "log-opt") and the accepted form.
 */
export function logBounds(type: string, config: Record<string, string>, field = 'log_config'): LogBounds {
  if (type !== '' && !(LOG_DRIVERS as readonly string[]).includes(type)) {
    throw new InvalidArgumentError(`log driver "${type}" is not supported: berth keeps each container's log in k8s-file format (json-file is accepted as another name for it)`, { field });
  }
  for (const k of Object.keys(config)) {
    if (!LOG_OPTS.includes(k)) throw new InvalidArgumentError(`unknown log opt "${k}" for the ${type || 'k8s-file'} log driver: expected max-size, max-file or path`, { field });
  }
  const path = config['path'];
  if (path !== undefined && (!path.startsWith('/') || path.split('/').includes('..') || path.endsWith('/'))) {
    throw new InvalidArgumentError(`invalid log opt path "${path}": expected an absolute file path without ".."`, { field });
  }
  let maxSize = DEFAULT_LOG_MAX_SIZE;
  const size = config['max-size'];
  if (size !== undefined) {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(size.trim());
    if (size.trim() === '-1') maxSize = 0;
    else if (!m) throw new InvalidArgumentError(`invalid log opt max-size "${size}": expected a size such as 512k, 10m or 1g, or -1 for no rotation`, { field });
    else maxSize = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
    if (size.trim() !== '-1' && maxSize < 1) throw new InvalidArgumentError(`invalid log opt max-size "${size}": must be at least 1 byte, or -1 for no rotation`, { field });
  }
  let maxFiles = DEFAULT_LOG_MAX_FILES;
  const files = config['max-file'];
  if (files !== undefined) {
    if (!/^\d+$/.test(files.trim())) throw new InvalidArgumentError(`invalid log opt max-file "${files}": expected a whole number of files, 1 to 1000`, { field });
    maxFiles = Number(files.trim());
    if (maxFiles < 1 || maxFiles > 1000) throw new InvalidArgumentError(`invalid log opt max-file "${files}": expected a whole number of files, 1 to 1000`, { field });
  }
  if (!Number.isSafeInteger(maxSize)) throw new InvalidArgumentError(`invalid log opt max-size "${size}": too large`, { field });
  return { maxSize, maxFiles };
}
