// Restart policies and Docker's backoff (moby restartmanager):
//  - the delay before a restart starts at 100 ms and doubles each time, capped at 1 min;
//  - if the container ran for 10 s or more before exiting, the delay resets to 100 ms;
//  - "no" never restarts; "always" always; "unless-stopped" unless the user
//    stopped it; "on-failure[:N]" on a non-zero exit while restarts < N (0 = no limit).
// A user stop always wins while the engine runs (the engine never calls this
// for a stop it initiated); across an engine restart see decideRecovery.
import type { RestartPolicy } from './types';

export const BACKOFF_INITIAL_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_RESET_AFTER_MS = 10_000;

export interface ExitFacts {
  exitCode: number;
  /** The user ran stop/kill on it. */
  manuallyStopped: boolean;
  /** How long the process ran (finishedAt - startedAt). */
  ranForMs: number;
}

/** Whether the policy wants a restart, ignoring timing. */
export function policyWantsRestart(policy: RestartPolicy, restartCount: number, f: Pick<ExitFacts, 'exitCode' | 'manuallyStopped'>): boolean {
  switch (policy.name) {
    case 'no': return false;
    case 'always': return !f.manuallyStopped;
    case 'unless-stopped': return !f.manuallyStopped;
    case 'on-failure':
      if (f.manuallyStopped) return false;
      return f.exitCode !== 0 && (policy.maximumRetryCount === 0 || restartCount < policy.maximumRetryCount);
  }
}

/**
 * Per-container restart state. The count is persisted in the record; the
 * current delay lives in memory (after an engine restart backoff starts over
 * at 100 ms, as in Docker).
 */
export class RestartBackoff {
  private delayMs = 0;

  /** The next restart's delay given how long the container just ran. */
  next(ranForMs: number): number {
    if (ranForMs >= BACKOFF_RESET_AFTER_MS) this.delayMs = 0;
    this.delayMs = this.delayMs === 0 ? BACKOFF_INITIAL_MS : Math.min(this.delayMs * 2, BACKOFF_MAX_MS);
    return this.delayMs;
  }

  get current(): number { return this.delayMs; }
}

export interface RestartDecision {
  restart: boolean;
  /** Delay before starting again (0 when not restarting). */
  delayMs: number;
}

export function decideRestart(policy: RestartPolicy, restartCount: number, backoff: RestartBackoff, f: ExitFacts): RestartDecision {
  if (!policyWantsRestart(policy, restartCount, f)) return { restart: false, delayMs: 0 };
  return { restart: true, delayMs: backoff.next(f.ranForMs) };
}

/** Timers, injected so tests drive time by hand. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A clock for tests: time moves only through advance(). */
export class ManualClock implements Clock {
  private t: number;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  constructor(start = 1_700_000_000_000) { this.t = start; }
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void { this.timers = this.timers.filter((x) => x.id !== handle); }
  /** Pending timers' due times relative to now, soonest first. */
  pending(): number[] { return this.timers.map((x) => x.at - this.t).sort((a, b) => a - b); }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}
