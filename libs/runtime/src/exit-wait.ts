// Waiting for a process's exit through its monitor: a watch connection (HELLO
// without output) that gets the EXIT frame, with the exit file as the answer
// when the monitor is already gone. No polling while the monitor lives.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataLossError, NotFoundError, UnavailableError, isUnavailable } from '@berth/errors';
import { Attachment } from './attach';
import { liveMonitorPid } from './liveness';
import { encodeHello, type ExitStatus } from './monitor-protocol';
import { readExitFile } from './state-files';

/** A watch connection (HELLO without output) to target; falls back to the exit file. */
export async function waitForExit(sock: string, exitPath: string, target: string, what: string): Promise<ExitStatus> {
  const dir = dirname(sock);
  for (let attempt = 1; ; attempt++) {
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
    // written before any client is closed) or it died. A killed monitor's
    // sockets close before it is a zombie, so wait for it to be gone before
    // calling the exit lost; one still alive is asked again.
    const late = readExitFile(exitPath, what);
    if (late) return late;
    if (!existsSync(dir)) throw new NotFoundError(`${what}: the container was deleted while waiting`);
    const gone = await monitorGoneWithin(dir, 2000);
    const last = readExitFile(exitPath, what);
    if (last) return last;
    if (gone) throw new DataLossError(`${what}: the monitor is gone and recorded no exit (see ${dir}/monitor.log)`);
    if (attempt >= 3) throw new UnavailableError(`${what}: the monitor keeps closing the connection without an exit (see ${dir}/monitor.log)`);
  }
}

/** True once the monitor process is gone (or a zombie); false if it still runs after `ms`. */
async function monitorGoneWithin(dir: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (liveMonitorPid(dir) !== null) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
