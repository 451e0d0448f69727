// Recovery at engine start, in the background: recovery.ts over the records,
// then the writable roots no container owns are removed (root-reconcile.ts),
// then the peers' reconcile with the containers that remain (the cgroups and
// networks services drop what no container holds, keeping anything newer
// than the list). The engine serves meanwhile; a peer that is unavailable
// (being restarted too) makes the whole pass wait and run again, so the
// engine does not fail to start because another service is restarting.
import type { Engine } from './engine';
import { peerRestarting } from './peer-retry';
import { recover } from './recovery';

export interface RecoveryLoopOptions {
  /** The peers' reconcile (cgroups, networks) with the container ids that exist as of `asOfMs`. */
  reconcilePeers(existingIds: string[], asOfMs: number): Promise<void>;
  /** True once the engine is shutting down: the loop stops. */
  stopped(): boolean;
  log: {
    info(fields: Record<string, unknown>, msg: string): void;
    error(fields: Record<string, unknown>, msg: string): void;
  };
}

/** Runs recovery until it succeeds, fails for a reason other than an unavailable peer, or the engine stops. */
export async function recoverInBackground(engine: Engine, o: RecoveryLoopOptions): Promise<void> {
  let delay = 200;
  for (;;) {
    if (o.stopped()) return;
    try {
      // (recover() starts the log copy of each container it keeps watching.)
      const actions = await recover(engine);
      // A layers service that fails the pass otherwise than by being restarted
      // must not keep the peers' reconcile from running: reported, and left.
      const roots = await engine.reconcileRoots().catch((e: unknown) => {
        if (peerRestarting(e)) throw e;
        o.log.error({ err: (e as Error).message }, 'reconciling writable roots failed');
        return [];
      });
      if (roots.length) o.log.info({ roots }, 'removed writable roots no container owns');
      // A container started meanwhile is newer than the list: its cgroup and network are left alone.
      const asOfMs = Date.now();
      await o.reconcilePeers(engine.list({ all: true }).map((c) => c.id), asOfMs);
      o.log.info({ containers: actions.length }, 'recovery done');
      return;
    } catch (e) {
      if (o.stopped()) return; // the clients were closed under us at shutdown
      if (!peerRestarting(e)) {
        o.log.error({ err: (e as Error).message }, 'recovery failed');
        return;
      }
      o.log.info({ err: (e as Error).message, retryInMs: delay }, 'recovery waits for a service');
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, 5000);
    }
  }
}
