// Healthchecks with Docker's semantics (moby daemon/health.go): the rules as
// pure functions, then the monitor over a real engine (recording ports, a
// manual clock) and a scripted probe: transitions, events after the commit,
// start period and start interval, the log of 5, restarts, pause, stop,
// resume after an engine restart.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '@berth/errors';
import type { HealthConfig } from '@berth/container-config';
import { applyProbeResult, BoundedOutput, goDuration, HealthMonitor, MAX_PROBE_OUTPUT, nextProbeDelay, probeArgs, timeoutOutput, type ProbeResult } from './health';
import { mergeConfig, emptyImageConfig } from './merge';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';
import { defaultContainerConfig, defaultHostConfig, type HealthState } from './types';
import { inspectContainer } from './inspect';
import { toSummary } from './summary';

const S = 1_000_000_000;
const hc = (o: Partial<HealthConfig> = {}): HealthConfig => ({ test: ['CMD-SHELL', 'check'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0, ...o });
const entry = (start: number, exitCode: number) => ({ start, end: start + 1, exitCode, output: '' });

describe('health rules', () => {
  it('a failure in the start period does not count while starting; past it the streak reaches retries', () => {
    const h = hc({ startPeriod: 10 * S, retries: 2 });
    let st: HealthState = { status: 'starting', failingStreak: 0, log: [] };
    st = applyProbeResult(h, st, entry(5_000, 1), 0);
    expect(st).toMatchObject({ status: 'starting', failingStreak: 0 });
    st = applyProbeResult(h, st, entry(11_000, 1), 0);
    expect(st).toMatchObject({ status: 'starting', failingStreak: 1 });
    st = applyProbeResult(h, st, entry(12_000, 1), 0);
    expect(st).toMatchObject({ status: 'unhealthy', failingStreak: 2 });
    st = applyProbeResult(h, st, entry(13_000, 0), 0);
    expect(st).toMatchObject({ status: 'healthy', failingStreak: 0 });
    expect(st.log).toHaveLength(4);
  });

  it('after a success the start period no longer shields failures', () => {
    const h = hc({ startPeriod: 60 * S, retries: 1 });
    let st: HealthState = { status: 'starting', failingStreak: 0, log: [] };
    st = applyProbeResult(h, st, entry(1_000, 0), 0);
    st = applyProbeResult(h, st, entry(2_000, 1), 0);
    expect(st.status).toBe('unhealthy');
  });

  it('keeps the last 5 results, oldest first', () => {
    let st: HealthState = { status: 'starting', failingStreak: 0, log: [] };
    for (let i = 0; i < 7; i++) st = applyProbeResult(hc(), st, entry(i, 0), 0);
    expect(st.log.map((e) => e.start)).toEqual([2, 3, 4, 5, 6]);
  });

  it('probes every start interval within the start period, the interval after it, and never past its end', () => {
    const h = hc({ interval: 30 * S, startPeriod: 20 * S, startInterval: 2 * S });
    expect(nextProbeDelay(h, 'starting', 0, 0)).toBe(2_000);
    expect(nextProbeDelay(h, 'healthy', 0, 5_000)).toBe(15_000); // the period ends before the interval would
    const long = hc({ interval: 30 * S, startPeriod: 120 * S, startInterval: 2 * S });
    expect(nextProbeDelay(long, 'starting', 0, 1_000)).toBe(2_000);
    expect(nextProbeDelay(long, 'healthy', 0, 1_000)).toBe(30_000);
    expect(nextProbeDelay(long, 'healthy', 0, 119_000)).toBe(1_000);
    expect(nextProbeDelay(long, 'starting', 0, 130_000)).toBe(30_000);
    expect(nextProbeDelay(hc(), 'starting', 0, 0)).toBe(30_000); // Docker's default interval
  });

  it('runs CMD as argv and CMD-SHELL through /bin/sh -c', () => {
    expect(probeArgs(hc({ test: ['CMD', 'cat', '/ok'] }))).toEqual(['cat', '/ok']);
    expect(probeArgs(hc({ test: ['CMD-SHELL', 'test -f /ok'] }))).toEqual(['/bin/sh', '-c', 'test -f /ok']);
  });

  it('keeps 4096 bytes of output and marks the cut, and words a timeout as Docker', () => {
    const o = new BoundedOutput();
    o.write(Buffer.alloc(3000, 'a'));
    o.write(Buffer.alloc(3000, 'b'));
    expect(o.toString()).toHaveLength(MAX_PROBE_OUTPUT + 3);
    expect(o.toString().endsWith('b...')).toBe(true);
    expect(goDuration(30_000)).toBe('30s');
    expect(goDuration(90_000)).toBe('1m30s');
    expect(goDuration(500)).toBe('500ms');
    expect(goDuration(1500)).toBe('1.5s');
    expect(timeoutOutput(1000, '')).toBe('Health check exceeded timeout (1s)');
    expect(timeoutOutput(1000, 'partial')).toBe('Health check exceeded timeout (1s): partial');
  });

  it("merges the container's healthcheck over the image's field by field; NONE disables it", () => {
    const image = { ...emptyImageConfig(), healthcheck: hc({ test: ['CMD', 'img'], interval: 5 * S, retries: 7 }) };
    const user = { ...defaultContainerConfig('x'), healthcheck: hc({ test: [], timeout: 2 * S }) };
    expect(mergeConfig(user, image).healthcheck).toEqual({ test: ['CMD', 'img'], interval: 5 * S, timeout: 2 * S, startPeriod: 0, startInterval: 0, retries: 7 });
    expect(mergeConfig(defaultContainerConfig('x'), image).healthcheck?.test).toEqual(['CMD', 'img']);
    expect(mergeConfig({ ...defaultContainerConfig('x'), healthcheck: hc({ test: ['NONE'] }) }, image).healthcheck?.test).toEqual(['NONE']);
    expect(mergeConfig(defaultContainerConfig('x'), emptyImageConfig()).healthcheck).toBeUndefined();
  });
});

/** A probe whose results the test hands out one by one. */
class ScriptedProbe {
  calls: { id: string; args: string[]; timeoutMs: number; signal: AbortSignal }[] = [];
  private pending: ((r: ProbeResult | Error) => void)[] = [];
  run = (id: string, args: string[], timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> => {
    this.calls.push({ id, args, timeoutMs, signal });
    return new Promise((resolve, reject) => this.pending.push((r) => (r instanceof Error ? reject(r) : resolve(r))));
  };
  async answer(r: ProbeResult | Error): Promise<void> {
    const next = this.pending.shift();
    if (!next) throw new Error('no probe is running');
    next(r);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
  get running(): number { return this.pending.length; }
}

describe('HealthMonitor', () => {
  let f: EngineFixture;
  let probe: ScriptedProbe;
  let monitor: HealthMonitor;

  beforeEach(() => {
    f = engineFixture({ prefix: 'berth-health-' });
    probe = new ScriptedProbe();
    monitor = new HealthMonitor({ store: f.engine.store, events: f.engine.events, probe, clock: f.clock });
  });
  afterEach(() => {
    monitor.close();
    f.close();
  });

  const run = (healthcheck?: HealthConfig) => f.engine.run({
    name: 'web', config: { ...defaultContainerConfig('alpine'), ...(healthcheck ? { healthcheck } : {}) }, hostConfig: defaultHostConfig(),
  });
  const health = (id: string) => f.engine.store.get(id).health;
  const healthEvents = () => f.events.filter((e) => e.action === 'health_status').map((e) => e.healthStatus);

  it('starts as starting, turns healthy then unhealthy after `retries` failures, announcing each change once', async () => {
    const c = await run(hc({ test: ['CMD-SHELL', 'test -f /ok'], interval: 1 * S, timeout: 3 * S, retries: 2 }));
    expect(health(c.id)).toEqual({ status: 'starting', failingStreak: 0, log: [] });
    expect(toSummary(f.engine.store.get(c.id)).health).toBe('starting');
    expect(probe.running).toBe(0);
    f.clock.advance(1000);
    expect(probe.calls[0]).toMatchObject({ id: c.id, args: ['/bin/sh', '-c', 'test -f /ok'], timeoutMs: 3000 });
    await probe.answer({ exitCode: 0, output: 'fine\n' });
    expect(health(c.id)).toMatchObject({ status: 'healthy', failingStreak: 0 });
    expect(healthEvents()).toEqual(['healthy']);
    f.clock.advance(1000);
    await probe.answer({ exitCode: 1, output: 'no /ok' });
    expect(health(c.id)).toMatchObject({ status: 'healthy', failingStreak: 1 });
    f.clock.advance(1000);
    await probe.answer({ exitCode: 1, output: 'no /ok' });
    expect(health(c.id)).toMatchObject({ status: 'unhealthy', failingStreak: 2 });
    expect(healthEvents()).toEqual(['healthy', 'unhealthy']);
    const doc = inspectContainer(f.engine.store.get(c.id)) as { State: { Health: { Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string; Start: string }[] } }; Config: { Healthcheck: unknown } };
    expect(doc.State.Health.Status).toBe('unhealthy');
    expect(doc.State.Health.FailingStreak).toBe(2);
    expect(doc.State.Health.Log.map((l) => [l.ExitCode, l.Output])).toEqual([[0, 'fine\n'], [1, 'no /ok'], [1, 'no /ok']]);
    expect(doc.Config.Healthcheck).toMatchObject({ Test: ['CMD-SHELL', 'test -f /ok'], Interval: 1 * S, Retries: 2 });
    // Restart policies do not look at health: the container runs on.
    expect(f.engine.store.get(c.id).state).toBe('running');
  });

  it('the image HEALTHCHECK applies, and --no-healthcheck (NONE) turns it off', async () => {
    f.ports.imagesByRef.get('alpine')!.config.healthcheck = hc({ test: ['CMD', 'true'], interval: 2 * S });
    const c = await run();
    f.clock.advance(2000);
    expect(probe.calls.map((x) => x.args)).toEqual([['true']]);
    await probe.answer({ exitCode: 0, output: '' });
    await f.engine.remove(c.id, { force: true });
    const off = await run(hc({ test: ['NONE'] }));
    f.clock.advance(60_000);
    expect(probe.calls).toHaveLength(1);
    expect(health(off.id)).toBeUndefined();
  });

  it('probes at the start interval during the start period, and failures there do not count', async () => {
    const c = await run(hc({ interval: 30 * S, startPeriod: 10 * S, startInterval: 2 * S, retries: 1 }));
    f.clock.advance(2000);
    await probe.answer({ exitCode: 1, output: 'not yet' });
    expect(health(c.id)).toMatchObject({ status: 'starting', failingStreak: 0 });
    expect(f.clock.pending()).toEqual([2000]);
    f.clock.advance(2000);
    await probe.answer({ exitCode: 1, output: 'not yet' });
    // 4 s in: next at the start interval again; at 10 s the period is over.
    for (const t of [2000, 2000, 2000]) {
      f.clock.advance(t);
      await probe.answer({ exitCode: 1, output: 'not yet' });
    }
    expect(health(c.id)).toMatchObject({ status: 'unhealthy', failingStreak: 1 });
    expect(f.clock.pending()).toEqual([30_000]);
  });

  it('stops probing at a stop or pause (a probe in flight is abandoned and its result dropped), and a start resets to starting', async () => {
    const c = await run(hc({ interval: 1 * S, retries: 1 }));
    f.clock.advance(1000);
    await probe.answer({ exitCode: 1, output: 'bad' });
    expect(health(c.id)?.status).toBe('unhealthy');
    f.clock.advance(1000);
    expect(probe.running).toBe(1);
    await f.engine.pause(c.id);
    expect(probe.calls[1]!.signal.aborted).toBe(true);
    await probe.answer(new Error('abandoned'));
    expect(monitor.watching(c.id)).toBe(false);
    await f.engine.unpause(c.id);
    expect(monitor.watching(c.id)).toBe(true);
    f.ports.exitProcess(c.id, { exitCode: 0 });
    await f.engine.wait(c.id);
    await new Promise((r) => setImmediate(r));
    expect(monitor.watching(c.id)).toBe(false);
    expect(health(c.id)?.status).toBe('unhealthy'); // the last status stays readable
    await f.engine.start(c.id);
    expect(health(c.id)).toMatchObject({ status: 'starting', failingStreak: 0 });
    expect(health(c.id)?.log).toHaveLength(1);
  });

  it("a probe that cannot reach berth's own service records nothing; any other error is a failed probe", async () => {
    const c = await run(hc({ interval: 1 * S, retries: 1 }));
    f.clock.advance(1000);
    await probe.answer(new UnavailableError('namespaces service restarting'));
    expect(health(c.id)).toMatchObject({ status: 'starting', log: [] });
    f.clock.advance(1000);
    await probe.answer(new Error('exec failed: no such file'));
    expect(health(c.id)).toMatchObject({ status: 'unhealthy', failingStreak: 1 });
    expect(health(c.id)?.log[0]).toMatchObject({ exitCode: -1, output: 'exec failed: no such file' });
  });

  it('resumes after an engine restart with the stored status', async () => {
    const c = await run(hc({ interval: 1 * S }));
    f.clock.advance(1000);
    await probe.answer({ exitCode: 0, output: '' });
    monitor.close();
    f.reopen();
    probe = new ScriptedProbe();
    monitor = new HealthMonitor({ store: f.engine.store, events: f.engine.events, probe, clock: f.clock });
    monitor.resume();
    expect(health(c.id)?.status).toBe('healthy');
    f.clock.advance(1000);
    expect(probe.calls.map((x) => x.id)).toEqual([c.id]);
    await probe.answer({ exitCode: 0, output: '' });
    expect(health(c.id)?.log).toHaveLength(2);
  });
});
