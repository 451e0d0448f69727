// Waiting for a process's exit through its monitor: a watch connection (HELLO
// without output) that gets the EXIT frame, with the exit file as the answer
// when the monitor is already gone. No polling.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataLossError, NotFoundError, isUnavailable } from '@berth/errors';
import { Attachment } from './attach';
import { encodeHello, type ExitStatus } from './monitor-protocol';
import { readExitFile } from './state-files';

/** A watch connection (HELLO without output) to target; falls back to the exit file. */
export async function waitForExit(sock: string, exitPath: string, target: string, what: string): Promise<ExitStatus> {
  const early = readExitFile(exitPath, what);
  if (early) return early;
  try {
    const conn = await Attachment.connect(sock, encodeHello(0, target), what);
    const status = await conn.exit;
    conn.close();
    if (status) return status;
  } catch (e) {
    if (!isUnavailable(e)) throw e;
  }
  // The connection ended: either the monitor finished (the exit file is
  // written before any client is closed) or it is gone without a record.
  const late = readExitFile(exitPath, what);
  if (late) return late;
  if (!existsSync(dirname(sock))) throw new NotFoundError(`${what}: the container was deleted while waiting`);
  throw new DataLossError(`${what}: the monitor is gone and recorded no exit (see ${dirname(sock)}/monitor.log)`);
}
