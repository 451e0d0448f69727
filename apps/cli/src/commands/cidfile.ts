// --cidfile, as Docker's CLI keeps it: the file must not exist before the
// create (another run may own it), and gets the container id once the
// container exists (0600: ids are not secrets, but the file is the caller's).
import { existsSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError } from '@berth/errors';

export function checkCidfile(path: string): void {
  if (path && existsSync(path)) {
    throw new InvalidArgumentError(`container ID file found, make sure the other container isn't running or delete ${path}`, { field: 'cidfile' });
  }
}

export function writeCidfile(path: string, id: string): void {
  if (!path) return;
  try {
    writeFileSync(path, id, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    throw new InvalidArgumentError(`failed to write the container ID file ${path}: ${(e as Error).message}`, { field: 'cidfile' });
  }
}
