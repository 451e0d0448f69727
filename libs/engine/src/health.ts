// Healthchecks: the engine runs each running container's HEALTHCHECK as an
// exec in the container and keeps Docker's State.Health in the record
// (moby daemon/health.go is the model, rule for rule):
//
//   - A start (or restart) resets the status to "starting" and the failing
//     streak to 0; the log of the last 5 results stays.
//   - The first probe runs one interval after the start. During the start
//     period, while the status is "starting", probes run every start
//     interval; once healthy within it, a start period that ends before the
//     next probe brings that probe forward to its end.
//   - Exit 0 is healthy: streak 0, status healthy. Anything else is a
//     failure; failures do not count while the status is "starting" and the
//     probe began within the start period; otherwise the streak grows and
//     reaching `retries` makes the container unhealthy.
//   - A probe that runs past its timeout is killed and recorded as exit -1,
//     "Health check exceeded timeout (<timeout>)". Output (stdout and stderr
//     together) is kept up to 4096 bytes, then "...".
//   - A status change is announced as health_status (healthy|unhealthy),
//     after it is committed to the record.
//   - Restart policies do not look at health, as in Docker.
//
// The monitor follows the engine's own events: started and unpaused begin
// probing, paused, die and removed end it; so nothing in the lifecycle code
// calls it. After an engine restart, resume() picks up every running
// container with a healthcheck once recovery has settled their states; the
// stored status and streak are kept (the container did not restart).
//
// A probe that could not reach the container for a reason that is not the
// container's (the namespaces service being restarted, the container
// exiting under the probe) records nothing and is tried again at the next
// interval; every other failure to run it is a failed probe (exit -1), as
// Docker records exec errors.
import { isFailedPrecondition, isNotFound, isUnavailable } from '@berth/errors';
import { HEALTH_DEFAULTS, healthcheckEnabled, type HealthConfig } from '@berth/container-config';
import type { ContainerStore } from './container-store';
import type { ContainerEvent, EngineEvents } from './events';
import { systemClock, type Clock } from './restart';
import type { ContainerRecord, HealthLogEntry, HealthState } from './types';

/** Docker's maxOutputLen: bytes of probe output kept. */
export const MAX_PROBE_OUTPUT = 4096;
/** Docker's maxLogEntries. */
export const MAX_HEALTH_LOG = 5;

/** What one probe produced. */
export interface ProbeResult {
  exitCode: number;
  /** At most MAX_PROBE_OUTPUT bytes of stdout+stderr, "..." appended when cut. */
  output: string;
}

/**
 * Runs one probe: `args` as an exec in running container `id` (its user,
 * working dir and environment), output bounded to MAX_PROBE_OUTPUT bytes;
 * past `timeoutMs` after it started the process is killed and the result is
 * exit -1 with Docker's timeout message. `signal` abandons the probe (the
 * container stopped): the process is killed, the promise rejects.
 */
export interface ProbeRunner {
  run(id: string, args: string[], timeoutMs: number, signal: AbortSignal): Promise<ProbeResult>;
}

/** Go's time.Duration.String() for whole milliseconds: "30s", "1m30s", "500ms", "1.5s". */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sec = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  if (h) return `${h}h${m}m${sec}`;
  if (m) return `${m}m${sec}`;
  return sec;
}

/** Docker's timeout result text. */
export function timeoutOutput(timeoutMs: number, output: string): string {
  return output === '' ? `Health check exceeded timeout (${goDuration(timeoutMs)})` : `Health check exceeded timeout (${goDuration(timeoutMs)}): ${output}`;
}

/** Keeps the first MAX_PROBE_OUTPUT bytes written; the rest only marks the output as cut. */
export class BoundedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private cut = false;
  write(b: Uint8Array): void {
    const keep = Math.min(MAX_PROBE_OUTPUT - this.size, b.length);
    if (keep > 0) {
      this.chunks.push(Buffer.from(b.subarray(0, keep)));
      this.size += keep;
    }
    if (keep < b.length) this.cut = true;
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8') + (this.cut ? '...' : '');
  }
}

/** The probe's argv: CMD runs its arguments, CMD-SHELL its command through /bin/sh -c. */
export function probeArgs(h: HealthConfig): string[] {
  return h.test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', h.test[1] ?? ''] : h.test.slice(1);
}

const ms = (ns: number): number => Math.max(1, Math.round(ns / 1e6));

/** The effective timings of a healthcheck, in ms (Docker's defaults where 0). */
export function healthTimings(h: HealthConfig): { intervalMs: number; timeoutMs: number; startPeriodMs: number; startIntervalMs: number; retries: number } {
  return {
    intervalMs: ms(h.interval || HEALTH_DEFAULTS.interval),
    timeoutMs: ms(h.timeout || HEALTH_DEFAULTS.timeout),
    startPeriodMs: h.startPeriod ? ms(h.startPeriod) : 0,
    startIntervalMs: ms(h.startInterval || HEALTH_DEFAULTS.startInterval),
    retries: h.retries > 0 ? h.retries : HEALTH_DEFAULTS.retries,
  };
}

/**
 * Docker's getInterval: the time until the next probe. Past the start
 * period: the interval. Within it, while starting: the start interval
 * (Docker 25's rule); otherwise the interval, brought forward to the end of
 * the start period when that comes first (Docker 28's addition; its code
 * checks the end of the period before the status, which would skip the start
 * interval whenever the period is shorter than the interval, against what
 * the start interval is documented to do).
 */
export function nextProbeDelay(h: HealthConfig, status: HealthState['status'], startedAt: number, now: number): number {
  const t = healthTimings(h);
  const elapsed = now - startedAt;
  if (elapsed >= t.startPeriodMs) return t.intervalMs;
  if (status === 'starting') return t.startIntervalMs;
  return Math.min(t.intervalMs, t.startPeriodMs - elapsed);
}

/** Docker's handleProbeResult, as a pure function: the new state after `result`. */
export function applyProbeResult(h: HealthConfig, state: HealthState, entry: HealthLogEntry, startedAt: number): HealthState {
  const t = healthTimings(h);
  const log = [...state.log, entry].slice(-MAX_HEALTH_LOG);
  if (entry.exitCode === 0) return { status: 'healthy', failingStreak: 0, log };
  if (state.status === 'starting' && entry.start - startedAt < t.startPeriodMs) return { ...state, log };
  const failingStreak = state.failingStreak + 1;
  return { status: failingStreak >= t.retries ? 'unhealthy' : state.status, failingStreak, log };
}

interface Watch {
  timer: unknown;
  abort: AbortController;
}

export interface HealthMonitorOptions {
  store: ContainerStore;
  events: EngineEvents;
  probe: ProbeRunner;
  clock?: Clock;
  warn?: (msg: string) => void;
}

export class HealthMonitor {
  private readonly store: ContainerStore;
  private readonly events: EngineEvents;
  private readonly probe: ProbeRunner;
  private readonly clock: Clock;
  private readonly warn: (msg: string) => void;
  private readonly watches = new Map<string, Watch>();
  private readonly onEvent = (ev: ContainerEvent): void => this.handleEvent(ev);
  private closed = false;

  constructor(o: HealthMonitorOptions) {
    this.store = o.store;
    this.events = o.events;
    this.probe = o.probe;
    this.clock = o.clock ?? systemClock;
    this.warn = o.warn ?? (() => {});
    this.events.on('event', this.onEvent);
  }

  /** Probing of every running container with a healthcheck (after an engine restart's recovery). */
  resume(): void {
    if (this.closed) return;
    for (const c of this.store.list({ all: false })) {
      if (c.state !== 'running' || this.watches.has(c.id) || !healthcheckEnabled(c.config.healthcheck)) continue;
      if (!c.health) this.reset(c.id);
      this.schedule(c.id);
    }
  }

  /** True while container `id` is being probed (tests). */
  watching(id: string): boolean {
    return this.watches.has(id);
  }

  /** Stops every probe; records stay for the next engine's resume(). */
  close(): void {
    this.closed = true;
    this.events.off('event', this.onEvent);
    for (const id of [...this.watches.keys()]) this.unwatch(id);
  }

  private handleEvent(ev: ContainerEvent): void {
    if (this.closed) return;
    switch (ev.action) {
      case 'started':
        this.unwatch(ev.id);
        if (this.reset(ev.id)) this.schedule(ev.id);
        break;
      case 'unpaused':
        if (this.enabled(ev.id)) this.schedule(ev.id);
        break;
      case 'paused':
      case 'die':
      case 'stopped':
      case 'removed':
        this.unwatch(ev.id);
        break;
      default:
    }
  }

  private enabled(id: string): ContainerRecord | undefined {
    try {
      const c = this.store.get(id);
      return healthcheckEnabled(c.config.healthcheck) ? c : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** A (re)started container: status starting, streak 0, the log kept. false when it has no healthcheck. */
  private reset(id: string): boolean {
    if (!this.enabled(id)) return false;
    this.store.update(id, (cur) => ({ ...cur, health: { status: 'starting', failingStreak: 0, log: cur.health?.log ?? [] } }));
    return true;
  }

  private unwatch(id: string): void {
    const w = this.watches.get(id);
    if (!w) return;
    this.clock.clearTimeout(w.timer);
    w.abort.abort();
    this.watches.delete(id);
  }

  private schedule(id: string): void {
    const c = this.enabled(id);
    if (!c || this.closed) return;
    const h = c.config.healthcheck!;
    const prev = this.watches.get(id);
    const abort = prev?.abort ?? new AbortController();
    const delay = nextProbeDelay(h, c.health?.status ?? 'starting', c.startedAt, this.clock.now());
    const w: Watch = { abort, timer: undefined };
    w.timer = this.clock.setTimeout(() => { void this.probeOnce(id, w); }, delay);
    this.watches.set(id, w);
  }

  private async probeOnce(id: string, w: Watch): Promise<void> {
    const c = this.enabled(id);
    if (!c || this.watches.get(id) !== w || c.state !== 'running') return;
    const h = c.config.healthcheck!;
    const start = this.clock.now();
    let result: ProbeResult | undefined;
    try {
      result = await this.probe.run(id, probeArgs(h), healthTimings(h).timeoutMs, w.abort.signal);
    } catch (e) {
      if (w.abort.signal.aborted) return;
      // Not the container's fault: its process is going away, or berth's own service is restarting.
      if (!isUnavailable(e) && !isNotFound(e) && !isFailedPrecondition(e)) result = { exitCode: -1, output: (e as Error).message };
      else this.warn(`healthcheck of container ${id} not run: ${(e as Error).message}`);
    }
    if (this.watches.get(id) !== w || w.abort.signal.aborted) return; // stopped meanwhile: the result is dropped, as Docker does
    if (result) this.record(id, { start, end: this.clock.now(), exitCode: result.exitCode, output: result.output });
    this.schedule(id);
  }

  /** Commits one result; announces a status change after the commit. */
  private record(id: string, entry: HealthLogEntry): void {
    let before: HealthState['status'] | undefined;
    let after: ContainerRecord;
    try {
      after = this.store.update(id, (cur) => {
        const h = cur.config.healthcheck;
        if (cur.state !== 'running' || !healthcheckEnabled(h)) return cur;
        const state = cur.health ?? { status: 'starting', failingStreak: 0, log: [] };
        before = state.status;
        return { ...cur, health: applyProbeResult(h, state, entry, cur.startedAt) };
      });
    } catch (e) {
      if (isNotFound(e)) return;
      this.warn(`recording the healthcheck of container ${id}: ${(e as Error).message}`);
      return;
    }
    const now = after.health?.status;
    if (before !== undefined && now !== undefined && now !== before) {
      this.events.publish({
        id: after.id, name: after.name, image: after.image, action: 'health_status', time: this.clock.now(),
        labels: after.config.labels, healthStatus: now,
      });
    }
  }
}
