// Reading and writing the files of a container's state dir (runtime.ts has
// the layout): whole-file reads that treat "missing" as null, atomic writes,
// and the monitor's exit record.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseExitRecord, type ExitStatus } from './monitor-protocol';

export function readOptional(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

export function readExitFile(path: string, what: string): ExitStatus | null {
  const text = readOptional(path);
  return text === null ? null : parseExitRecord(text, `${what} (${path})`);
}
