// Riding out a peer service being restarted. Work no client waits for (exit
// handling, --rm, a rollback's undo) keeps calling a service that answers
// UNAVAILABLE (killed, being restarted by the supervisor, which takes
// seconds) for a while; past the window the error stands, and recovery at
// the next engine start releases what is left.
import { ErrorCode, errorCode, isUnavailable } from '@berth/errors';
import type { SagaStep } from './saga';

/** The default window (BERTH_ENGINE_PEER_RETRY_MS overrides it). */
export const UNAVAILABLE_RETRY_MS = 60_000;

/** An UNAVAILABLE error of a call that never reached its service (grpc-js: no connection could be made). */
const neverConnected = (e: unknown): boolean => /No connection established/.test((e as Error).message);

/**
 * A peer being restarted: UNAVAILABLE, or a deadline that passed while the
 * call still waited for a connection to the service (grpc-js "Waiting for LB
 * pick": it never left this process). The second is what a service still
 * starting on a loaded machine gives (seen: 38 s at a stack start with the
 * load at 30); either may be made again.
 */
export function peerRestarting(e: unknown): boolean {
  return isUnavailable(e) || (errorCode(e) === ErrorCode.DeadlineExceeded && /Waiting for LB pick/.test((e as Error).message));
}

export class PeerRetry {
  /**
   * `windowMs`: how long an unavailable service is called again; `stopped`:
   * true once the engine is closing (then nothing is retried).
   */
  constructor(
    private readonly windowMs: number,
    private readonly stopped: () => boolean,
    private readonly warn: (msg: string) => void,
  ) {}

  /** `fn` again while the service it calls is unavailable, for up to the window (not once stopped). */
  async whileUnavailable<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.windowMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await fn();
      } catch (e) {
        if (!peerRestarting(e) || this.stopped() || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * A rollback must not leave things behind because a service was being
   * restarted: undo steps wait for it. And a step whose call failed with
   * UNAVAILABLE may have taken effect before the service died (the reply was
   * lost): its own undo runs too (undos tolerate absence), so a retried
   * start does not find a half-made attachment or process in its way.
   */
  retryingUndo<C>(steps: SagaStep<C>[]): SagaStep<C>[] {
    return steps.map((st) => {
      if (!st.undo) return st;
      const undo = (ctx: C) => this.whileUnavailable(() => st.undo!(ctx));
      return {
        name: st.name,
        undo,
        run: async (ctx: C) => {
          try {
            await st.run(ctx);
          } catch (e) {
            // A call that never reached its service ("No connection
            // established": nothing listens there) did nothing to undo; waiting
            // out the retry window for a service that is not running would
            // only hold the caller's error back by a minute.
            if (isUnavailable(e) && !neverConnected(e)) await undo(ctx).catch((u: unknown) => this.warn(`undoing ${st.name} after its call was cut: ${(u as Error).message}`));
            throw e;
          }
        },
      };
    });
  }
}
