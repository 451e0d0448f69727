import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { existsSync } from 'node:fs';
import { isFailedPrecondition, isNotFound } from '@berth/errors';
import type { Db } from './db';
import { Engine, normalizeSignal, type CreateRequest, type StatsSample } from './engine';
import type { ContainerEvent } from './events';
import { decideRecovery, recover } from './recovery';
import { ManualClock } from './restart';
import { defaultContainerConfig, defaultHostConfig, type HostConfig, type MountSpec } from './types';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';
import { addTestImage, type RecordingPorts } from './testing/recording-ports';
import { newContainerRecord } from './record';

let dir: string;
let db: Db;
let clock: ManualClock;
let ports: RecordingPorts;
let engine: Engine;
let events: ContainerEvent[];

let f: EngineFixture;
beforeEach(() => {
  f = engineFixture();
  ({ dir, db, clock, ports, engine, events } = f);
});
afterEach(() => f.close());

/** Lets pending promise chains (exit watchers, serial chains) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

function req(p: { name?: string; host?: Partial<HostConfig>; cmd?: string[] } = {}): CreateRequest {
  return { name: p.name ?? 'web', config: { ...defaultContainerConfig('alpine'), cmd: p.cmd ?? null }, hostConfig: { ...defaultHostConfig(), ...p.host } };
}
const actions = (id?: string) => events.filter((e) => !id || e.id === id).map((e) => e.action + (e.exitCode !== undefined ? `(${e.exitCode})` : ''));

describe('engine lifecycle (in-memory service test doubles)', () => {
  it('docker run mounts the root once (the start right after its create finds it mounted); a start long after a create mounts it again', async () => {
    const mounts = () => ports.rec.calls.filter((x) => x.startsWith('layers.mount'));
    const c = await engine.run(req());
    expect(c.state).toBe('running');
    expect(mounts()).toEqual([]);
    const later = await engine.create(req({ name: 'later' }));
    clock.advance(60_000); // a reboot could have taken the mount meanwhile
    await engine.start(later.id);
    expect(mounts()).toEqual([`layers.mount ${later.id}`]);
  });

  it('run: created then started, record running with pid and network', async () => {
    const c = await engine.run(req());
    expect(c).toMatchObject({ state: 'running', name: 'web', path: '/bin/sh', args: [], startedAt: clock.now() });
    expect(c.pid).toBeGreaterThan(0);
    expect(c.networkSettings.ipAddress).toBe('172.30.0.2');
    expect(c.networkSettings.hostsPath).toContain(c.id);
    expect(actions()).toEqual(['created', 'started']);
  });

  it('generates a name when none is given', async () => {
    const c = await engine.create({ ...req(), name: undefined });
    expect(c.name).toMatch(/^[a-z]+_[a-z]+$/);
  });

  it('a failed create leaves no record and no resources', async () => {
    await expect(engine.create({ ...req(), config: { ...defaultContainerConfig('nope') } })).rejects.toThrow(/resolveImage: no such image: nope/);
    expect(engine.list({ all: true })).toEqual([]);
    expect(ports.rec.live.size).toBe(0);
  });

  it('a failed start keeps the created container with the error (Docker), rolled back runtime', async () => {
    ports.rec.failOn('networks.attach');
    await expect(engine.run(req())).rejects.toThrow(/attachNetwork: injected failure/);
    const c = engine.store.find('web');
    expect(c.state).toBe('created');
    expect(c.error).toMatch(/attachNetwork/);
    expect([...ports.rec.live].map((x) => x.split(' ')[0]).sort()).toEqual(['image-ref', 'rootfs']);
  });

  it('--network container:<name> is resolved to the full id at create; it must exist, and run at start', async () => {
    const web = await engine.run(req());
    const side = await engine.create({ ...req({ name: 'side', host: { networkMode: 'container:web' } }) });
    expect(side.hostConfig.networkMode).toBe(`container:${web.id}`);
    const missing = await engine.create(req({ name: 'x', host: { networkMode: 'container:nope' } })).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
    expect((missing as Error).message).toMatch(/container:nope: no such container: nope/);
    expect(engine.list({ all: true }).map((c) => c.name).sort()).toEqual(['side', 'web']);
    await engine.stop('web', 0);
    const notRunning = await engine.start('side').catch((e: unknown) => e);
    expect(isFailedPrecondition(notRunning)).toBe(true);
    expect((notRunning as Error).message).toMatch(/it is not running .*start it first/);
    await engine.start('web');
    expect((await engine.start('side')).state).toBe('running');
  });

  it('process exit: exited with code and time, runtime released, rootfs kept', async () => {
    const c = await engine.run(req());
    clock.advance(5_000);
    ports.exitProcess(c.id, { exitCode: 3 });
    await flush();
    const r = engine.store.get(c.id);
    expect(r).toMatchObject({ state: 'exited', exitCode: 3, finishedAt: clock.now(), pid: 0 });
    expect([...ports.rec.live].map((x) => x.split(' ')[0]).sort()).toEqual(['image-ref', 'rootfs']);
    expect(actions()).toEqual(['created', 'started', 'die(3)', 'exited(3)']);
  });

  it('OOM kill is recorded and announced', async () => {
    const c = await engine.run(req());
    ports.exitProcess(c.id, { exitCode: 137, signal: 'SIGKILL', oomKilled: true });
    await flush();
    expect(engine.store.get(c.id).oomKilled).toBe(true);
    expect(actions()).toEqual(['created', 'started', 'oom', 'die(137)', 'exited(137)']);
  });

  it('stop: stop signal, then SIGKILL after the timeout; marks manual stop', async () => {
    const c = await engine.run(req({ host: { restartPolicy: { name: 'unless-stopped', maximumRetryCount: 0 } } }));
    const r = await engine.stop(c.id, 1);
    expect(r).toMatchObject({ state: 'exited', exitCode: 143, manuallyStopped: true });
    expect(ports.rec.calls).toContain(`namespaces.kill ${c.id} SIGTERM`);
    expect(engine.restartPending(c.id)).toBe(false);
    expect(actions()).toEqual(['created', 'started', 'die(143)', 'exited(143)', 'stopped']);
    // Stopping again is a no-op.
    expect((await engine.stop('web')).state).toBe('exited');
  });

  it('stop escalates to SIGKILL when the stop signal is ignored', async () => {
    const c = await engine.create({ ...req(), config: { ...defaultContainerConfig('alpine'), stopSignal: 'SIGUSR1' } });
    await engine.start(c.id);
    const r = await engine.stop(c.id, 0);
    expect(r.exitCode).toBe(137);
    const kills = ports.rec.calls.filter((x) => x.startsWith('namespaces.kill'));
    expect(kills).toEqual([`namespaces.kill ${c.id} SIGUSR1`, `namespaces.kill ${c.id} SIGKILL`]);
  });

  it('stop normalises numeric stop signals and takes an override', async () => {
    const c = await engine.create({ ...req(), config: { ...defaultContainerConfig('alpine'), stopSignal: '15' } });
    await engine.start(c.id);
    expect((await engine.stop(c.id, 1)).exitCode).toBe(143);
    await engine.start(c.id);
    await engine.stop(c.id, 0, 'usr2');
    expect(ports.rec.calls.filter((x) => x.startsWith('namespaces.kill')).map((x) => x.split(' ')[2])).toEqual(['SIGTERM', 'SIGUSR2', 'SIGKILL']);
    await expect(engine.stop(c.id, 0, 'BOGUS')).rejects.toThrow(/invalid signal "BOGUS"/);
  });

  it('pause/unpause freeze the cgroup; illegal ones name the state', async () => {
    const c = await engine.run(req());
    await engine.pause('web');
    expect(engine.store.get(c.id).state).toBe('paused');
    await expect(engine.pause('web')).rejects.toThrow('container web is already paused');
    await engine.unpause('web');
    expect(engine.store.get(c.id).state).toBe('running');
    await engine.stop('web');
    const e = await engine.pause('web').catch((x) => x);
    expect(isFailedPrecondition(e)).toBe(true);
    expect(e.message).toBe('container web is not running (state: exited)');
    expect(actions()).toContain('paused');
    expect(ports.rec.calls.filter((x) => /cgroups\.(freeze|thaw)/.test(x)).map((x) => x.split(' ')[0])).toEqual(['cgroups.freeze', 'cgroups.thaw']);
  });

  it('kill delivers signals; SIGKILL counts as a user stop', async () => {
    const c = await engine.run(req({ host: { restartPolicy: { name: 'always', maximumRetryCount: 0 } } }));
    await engine.kill('web', 'HUP');
    expect(engine.store.get(c.id).state).toBe('running');
    await engine.kill('web', '9');
    await flush();
    expect(engine.store.get(c.id)).toMatchObject({ state: 'exited', exitCode: 137, manuallyStopped: true });
    expect(engine.restartPending(c.id)).toBe(false);
    await expect(engine.kill('web')).rejects.toThrow('container web is not running (state: exited)');
  });

  it('reopenLog reopens the log of a running container by name or id; one that is not running is refused by state', async () => {
    const c = await engine.create(req());
    await expect(engine.reopenLog('web')).rejects.toThrow('container web is not running (state: created): its log is not being written, nothing to reopen');
    await engine.start('web');
    await engine.reopenLog('web');
    await engine.reopenLog(c.id.slice(0, 12));
    expect(ports.rec.calls.filter((x) => x.startsWith('namespaces.reopenLog'))).toEqual([`namespaces.reopenLog ${c.id}`, `namespaces.reopenLog ${c.id}`]);
    await engine.stop('web', 0);
    const e = await engine.reopenLog('web').catch((x: unknown) => x);
    expect(isFailedPrecondition(e)).toBe(true);
    await expect(engine.reopenLog('nope')).rejects.toSatisfy(isNotFound);
  });

  it('remove refuses a running container, force kills it; events end with removed', async () => {
    const c = await engine.run(req());
    await expect(engine.remove('web')).rejects.toThrow(/cannot remove container web: it is running/);
    await engine.remove('web', { force: true });
    expect(isNotFound(catchSync(() => engine.store.get(c.id)))).toBe(true);
    expect(ports.rec.live.size).toBe(0);
    expect(actions()).toEqual(['created', 'started', 'die(137)', 'removed']);
  });

  it('--rm removes the container and its anonymous volumes on exit', async () => {
    const mounts: MountSpec[] = [{ type: 'volume', source: '', target: '/data', readOnly: false, options: [] }];
    const c = await engine.run(req({ host: { autoRemove: true, mounts } }));
    const vol = c.mounts[0]!;
    expect(vol.type).toBe('volume');
    expect(existsSync(vol.source)).toBe(true);
    ports.exitProcess(c.id, { exitCode: 0 });
    // The removal ends with an async rm of the state dir (real fs, not a
    // bounded number of ticks): wait for its last step, the event.
    await vi.waitFor(() => expect(actions()).toContain('removed'), { timeout: 10_000 });
    expect(engine.list({ all: true })).toEqual([]);
    expect(engine.volumes.list()).toEqual([]);
    expect(existsSync(vol.source)).toBe(false);
    expect(actions()).toEqual(['created', 'started', 'die(0)', 'exited(0)', 'removed']);
  });

  it('a failure while handling an exit is reported, not left as an unhandled rejection', async () => {
    const warnings: string[] = [];
    const e2 = new Engine({ store: engine.store, volumes: engine.volumes, ports, stateDir: dir, clock, warn: (m) => warnings.push(m) });
    const c = await e2.run(req({ name: 'rmme', host: { autoRemove: true } }));
    // Sticky: --rm releases the root early and the removal tries once more.
    ports.rec.failOn('layers.remove', undefined, true);
    ports.exitProcess(c.id, { exitCode: 0 });
    await flush();
    expect(warnings.join('\n')).toMatch(/handling the exit of container .*injected failure in layers.remove/);
    // Nothing half-removed: the container is still there, exited, and rm works on retry.
    expect(e2.store.get(c.id).state).toBe('exited');
    ports.rec.failures.delete('layers.remove');
    await e2.remove(c.id);
    expect(e2.list({ all: true })).toEqual([]);
    e2.close();
  });

  it('--rm with a restart policy is refused before anything is created', async () => {
    await expect(engine.create(req({ host: { autoRemove: true, restartPolicy: { name: 'always', maximumRetryCount: 0 } } })))
      .rejects.toThrow(/conflicting options: --restart and --rm/);
    expect(ports.rec.calls).toEqual([]);
  });

  it('an existing named volume with options is used as it is', async () => {
    engine.volumes.create({ name: 'sized', options: { size: '1g' } });
    const c = await engine.create(req({ host: { mounts: [{ type: 'volume', source: 'sized', target: '/d', readOnly: false, options: [] }] } }));
    expect(c.mounts[0]).toMatchObject({ name: 'sized' });
    await engine.remove('web', { volumes: true });
    expect(engine.volumes.find('sized')).toBeDefined(); // named: kept
  });

  it('named volumes: created on demand, removal refused while used, image VOLUMEs get anonymous ones', async () => {
    addTestImage(ports, 'pg', { cmd: ['postgres'], volumes: ['/var/lib/postgresql/data'] });
    const c = await engine.create({
      name: 'db', config: { ...defaultContainerConfig('pg') },
      hostConfig: { ...defaultHostConfig(), mounts: [{ type: 'volume', source: 'pgconf', target: '/etc/pg', readOnly: true, options: [] }, { type: 'bind', source: '/srv', target: '/srv', readOnly: false, options: ['rprivate'] }] },
    });
    expect(c.mounts.map((m) => [m.type, m.destination, m.rw, m.name === '' ? '' : m.name.length > 20 ? 'anon' : m.name])).toEqual([
      ['volume', '/etc/pg', false, 'pgconf'], ['bind', '/srv', true, ''], ['volume', '/var/lib/postgresql/data', true, 'anon'],
    ]);
    expect(() => engine.volumes.remove('pgconf')).toThrow(/volume pgconf is in use by container\(s\) /);
    expect(engine.volumes.list({ dangling: ['false'] }).map((v) => v.name)).toContain('pgconf');
    await engine.remove('db', { volumes: true });
    expect(engine.volumes.list().map((v) => v.name)).toEqual(['pgconf']); // named volumes survive rm -v
    engine.volumes.remove('pgconf');
  });

  it('rename: event carries the old name; taken names refused', async () => {
    await engine.create(req({ name: 'aa' }));
    await engine.create(req({ name: 'bb' }));
    expect(() => engine.rename('aa', 'bb')).toThrow(/already in use/);
    expect(() => engine.rename('aa', '-bad')).toThrow(/invalid container name/);
    engine.rename('aa', 'cc');
    const ev = events.find((e) => e.action === 'renamed')!;
    expect([ev.name, ev.oldName]).toEqual(['cc', 'aa']);
  });

  it('update changes limits live through the cgroups port', async () => {
    await engine.run(req());
    const r = await engine.update('web', { memory: 64 * 1024 * 1024, restartPolicy: { name: 'on-failure', maximumRetryCount: 3 } });
    expect(r.hostConfig.memory).toBe(67108864);
    expect(r.hostConfig.restartPolicy).toEqual({ name: 'on-failure', maximumRetryCount: 3 });
    expect(ports.rec.calls.some((x) => x.startsWith('cgroups.update'))).toBe(true);
    await expect(engine.update('web', { memory: 100, memorySwap: 50 })).rejects.toThrow(/memory-swap must be at least memory/);
  });

  it('wait resolves with the exit code', async () => {
    const c = await engine.run(req());
    const w = engine.wait('web');
    ports.exitProcess(c.id, { exitCode: 42 });
    expect(await w).toBe(42);
    expect(await engine.wait('web')).toBe(42); // already stopped: at once
    await engine.start('web');
    const ac = new AbortController();
    const w2 = engine.wait('web', 'next-exit', ac.signal);
    ac.abort();
    await expect(w2).rejects.toThrow(/cancelled/);
    expect(engine.events.listenerCount('event')).toBe(1); // only the test's own listener remains
  });

  it('exec runs in a running container with merged env and user; events exec_started/exec_died', async () => {
    const c = await engine.create({ ...req(), config: { ...defaultContainerConfig('alpine'), env: ['A=1'], workingDir: '/srv' } });
    await engine.start(c.id);
    ports.rootFiles.set('/etc/passwd', 'root:x:0:0::/root:/bin/sh\nbob:x:7:8::/home/bob:/bin/sh\n');
    const { execId, exitCode } = await engine.exec('web', { args: ['ls', '-l'], env: ['A=2', 'B=3'], user: 'bob' });
    expect(ports.execs.get(execId)!.spec).toMatchObject({ args: ['ls', '-l'], cwd: '/srv', uid: 7, gid: 8, env: expect.arrayContaining(['A=2', 'B=3', 'HOME=/home/bob']) });
    ports.finishExec(execId, 3);
    expect(await exitCode).toBe(3);
    expect(events.filter((e) => e.action.startsWith('exec')).map((e) => [e.action, e.execId === execId, e.exitCode])).toEqual([['exec_started', true, undefined], ['exec_died', true, 3]]);
    await engine.pause('web');
    await expect(engine.exec('web', { args: ['ls'] })).rejects.toThrow('container web is paused (state: paused); unpause it first');
    await engine.unpause('web');
    await engine.stop('web');
    await expect(engine.exec('web', { args: ['ls'] })).rejects.toThrow('container web is not running (state: exited)');
  });

  it('prune removes stopped containers only; info counts', async () => {
    await engine.run(req({ name: 'up' }));
    await engine.create(req({ name: 'made' }));
    const x = await engine.run(req({ name: 'done' }));
    await engine.stop(x.id);
    expect(engine.info()).toEqual({ total: 3, running: 1, paused: 0, stopped: 2, volumes: 0 });
    const removed = await engine.pruneContainers();
    expect(removed).toHaveLength(2);
    expect(engine.list({ all: true }).map((c) => c.name)).toEqual(['up']);
  });

  it('stats: all running containers in one sample, CPU from two readings (the first sample too), then from the previous one', async () => {
    const a = await engine.run(req({ name: 'aa' }));
    const b = await engine.run(req({ name: 'bb' }));
    await engine.create(req({ name: 'cc' }));
    const raw = (cpu: number, sys: number) => ({ cpuUsageNs: cpu, systemCpuNs: sys, onlineCpus: 2, memoryUsage: 100 << 20, memoryLimit: 1 << 30, inactiveFile: 20 << 20, blockRead: 5, blockWrite: 6, pids: 3 });
    ports.cgroupStats.set(a.id, raw(1e9, 10e9));
    ports.cgroupStats.set(b.id, raw(0, 10e9));
    ports.netCounters.set(a.id, { rx: 1200, tx: 34 });
    const view = (smp: { name: string; cpuPercent: number; memoryUsage: number; netRx: number }[]) => smp.map((x) => ({ name: x.name, cpu: x.cpuPercent, mem: x.memoryUsage, rx: x.netRx }));
    // The first sample does not wait for the interval, and a busy container's
    // CPU comes from two readings a moment apart (docker's precpu), not 0%.
    const readStats = ports.cgroups.readStats.bind(ports.cgroups);
    let reads = 0;
    ports.cgroups.readStats = async (id) => (id === a.id ? raw(1e9 * ++reads, 10e9 + 4e9 * reads) : readStats(id));
    const ac1 = new AbortController();
    const slow = engine.stats([], { stream: true, intervalMs: 60_000, signal: ac1.signal });
    const first = await Promise.race([slow.next(), new Promise((r) => setTimeout(() => r('late'), 5_000))]);
    expect(first).not.toBe('late');
    expect(reads).toBe(2);
    expect(view((first as IteratorResult<StatsSample[]>).value as StatsSample[])).toEqual([{ name: 'bb', cpu: 0, mem: 80 << 20, rx: 0 }, { name: 'aa', cpu: 50, mem: 80 << 20, rx: 1200 }]);
    ac1.abort();
    await slow.return(undefined);
    ports.cgroups.readStats = readStats;
    // A recent reading is the previous one: the next sample is against it, at once.
    ports.cgroupStats.set(a.id, raw(3e9, 22e9));
    const ac = new AbortController();
    const samples: ReturnType<typeof view>[] = [];
    for await (const smp of engine.stats([], { stream: true, intervalMs: 20, signal: ac.signal })) {
      samples.push(view(smp));
      if (samples.length === 2) ac.abort();
    }
    expect(samples[0]!.find((x) => x.name === 'aa')!.cpu).toBe(50); // 1 s CPU over 4 s system time x 2 CPUs
    expect(samples[1]!.find((x) => x.name === 'aa')!.cpu).toBe(0); // counters did not move
    const one: unknown[] = [];
    for await (const s of engine.stats(['cc'])) one.push(s.map((x) => [x.name, x.pids]));
    expect(one).toEqual([[['cc', 0]]]);
  });

  it('top: host ps rows of the container pids only', async () => {
    const c = await engine.run(req());
    const pid = ports.processes.get(c.id)!.pid;
    ports.extraPids.set(c.id, [4242]);
    const psOut = `UID          PID    PPID  C STIME TTY          TIME CMD\nroot           1       0  0 07:00 ?        00:00:01 /sbin/init\nroot        ${pid}       1  0 07:01 ?        00:00:00 nginx: master process nginx -g daemon off;\n101         4242    ${pid}  0 07:01 ?        00:00:00 nginx: worker process\n`;
    const e2 = new Engine({ store: engine.store, volumes: engine.volumes, ports, stateDir: dir, clock, ps: async (args) => { expect(args).toEqual(['-ef']); return psOut; } });
    const t = await e2.top('web', ['-ef']);
    expect(t.titles).toEqual(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    expect(t.processes.map((p) => [p[1], p[7]])).toEqual([[String(pid), 'nginx: master process nginx -g daemon off;'], ['4242', 'nginx: worker process']]);
    await engine.stop('web');
    await expect(e2.top('web')).rejects.toThrow('container web is not running (state: exited)');
    e2.close();
  });

  it('commit: diff of the writable root (frozen while read), config with changes, event', async () => {
    const c = await engine.run(req({ cmd: ['sh'] }));
    const id = await engine.commit('web', { repository: 'me/snap', tag: 'v1', author: 'me', message: 'snap', changes: ['CMD ["app"]', 'ENV X=1'] });
    expect(id).toMatch(/^sha256:/);
    const calls = ports.rec.calls.filter((x) => /cgroups\.(freeze|thaw)|layers\.diff|images\.createImage/.test(x)).map((x) => x.split(' ')[0]);
    expect(calls).toEqual(['cgroups.freeze', 'layers.diff', 'cgroups.thaw', 'images.createImage']);
    expect(ports.createdImages[0]).toMatchObject({ parentDigest: c.imageDigest, reference: 'me/snap:v1', author: 'me', comment: 'snap', config: { cmd: ['app'], env: ['X=1'] } });
    expect(events.at(-1)).toMatchObject({ action: 'commit', imageId: id });
    await expect(engine.commit('web', { changes: ['RUN x'] })).rejects.toThrow(/RUN cannot be applied by commit/);
    ports.rec.failOn('layers.diff');
    await expect(engine.commit('web', {})).rejects.toThrow(/injected failure/);
    expect(ports.rec.calls.at(-1)).toMatch(/^cgroups\.thaw/); // thawed even when the diff failed
  });

  it('every lifecycle call on an unknown container rejects with NotFound (no synchronous throw)', async () => {
    for (const call of [() => engine.start('nope'), () => engine.stop('nope'), () => engine.kill('nope'), () => engine.pause('nope'),
      () => engine.unpause('nope'), () => engine.remove('nope'), () => engine.update('nope', {}), () => engine.wait('nope'), () => engine.restart('nope'),
      () => engine.exec('nope', { args: ['x'] }), () => engine.commit('nope'), () => engine.top('nope')]) {
      const p = call();
      expect(p).toBeInstanceOf(Promise);
      await expect(p).rejects.toThrow('no such container: nope');
    }
  });

  it('signal names normalise', () => {
    expect(['TERM', 'sigterm', '15', 'SIGTERM'].map(normalizeSignal)).toEqual(['SIGTERM', 'SIGTERM', 'SIGTERM', 'SIGTERM']);
    expect(normalizeSignal('35')).toBe('SIGRTMIN+1');
    expect(() => normalizeSignal('NOPE')).toThrow(/invalid signal "NOPE"/);
  });
});

describe('restart policies with backoff (manual clock)', () => {
  async function crash(id: string, ranMs: number, exitCode = 1): Promise<void> {
    clock.advance(ranMs);
    ports.exitProcess(id, { exitCode });
    await flush();
  }
  async function fire(): Promise<void> {
    const next = clock.pending()[0];
    if (next === undefined) throw new Error('no restart pending');
    clock.advance(next);
    await flush();
  }

  it('always: 100 ms doubling up to 1 min, reset after running 10 s', async () => {
    const c = await engine.run(req({ host: { restartPolicy: { name: 'always', maximumRetryCount: 0 } } }));
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      await crash(c.id, 1_000, 0);
      expect(engine.store.get(c.id).state).toBe('restarting');
      delays.push(clock.pending()[0]!);
      await fire();
      expect(engine.store.get(c.id).state).toBe('running');
    }
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
    expect(engine.store.get(c.id).restartCount).toBe(12);
    await crash(c.id, 10_000, 0); // ran 10 s: back to 100 ms
    expect(clock.pending()).toEqual([100]);
    await fire();
    expect(actions(c.id).slice(-3)).toEqual(['die(0)', 'restarted', 'started']);
  });

  it('on-failure:2 restarts non-zero exits twice, then stays exited', async () => {
    const c = await engine.run(req({ host: { restartPolicy: { name: 'on-failure', maximumRetryCount: 2 } } }));
    await crash(c.id, 100); await fire();
    await crash(c.id, 100); await fire();
    await crash(c.id, 100);
    expect(engine.store.get(c.id)).toMatchObject({ state: 'exited', restartCount: 2, exitCode: 1 });
    expect(clock.pending()).toEqual([]);
  });

  it('on-failure does not restart a clean exit; no never restarts', async () => {
    const a = await engine.run(req({ name: 'aa', host: { restartPolicy: { name: 'on-failure', maximumRetryCount: 0 } } }));
    const b = await engine.run(req({ name: 'bb' }));
    await crash(a.id, 100, 0);
    await crash(b.id, 100, 1);
    expect([engine.store.get(a.id).state, engine.store.get(b.id).state]).toEqual(['exited', 'exited']);
    expect(clock.pending()).toEqual([]);
  });

  it('stop during the backoff cancels the restart', async () => {
    const c = await engine.run(req({ host: { restartPolicy: { name: 'always', maximumRetryCount: 0 } } }));
    await crash(c.id, 100);
    expect(engine.store.get(c.id).state).toBe('restarting');
    await engine.stop('web');
    expect(engine.store.get(c.id)).toMatchObject({ state: 'exited', manuallyStopped: true });
    expect(clock.pending()).toEqual([]);
  });

  it('a failed restart leaves the container exited with the error', async () => {
    const c = await engine.run(req({ host: { restartPolicy: { name: 'always', maximumRetryCount: 0 } } }));
    await crash(c.id, 100);
    ports.rec.failOn('cgroups.create');
    await fire();
    expect(engine.store.get(c.id)).toMatchObject({ state: 'exited', exitCode: 128, error: expect.stringMatching(/createCgroup/) });
  });
});

describe('recovery after an engine restart', () => {
  function reopen(): void {
    engine = f.reopen();
    db = f.db;
  }

  it('reconciles records with what the namespaces service reports, then applies policies', async () => {
    const alive = await engine.run(req({ name: 'alive' }));
    const died = await engine.run(req({ name: 'died', host: { restartPolicy: { name: 'on-failure', maximumRetryCount: 0 } } }));
    const lost = await engine.run(req({ name: 'lost' }));
    const stopped = await engine.run(req({ name: 'stopped', host: { restartPolicy: { name: 'unless-stopped', maximumRetryCount: 0 } } }));
    const always = await engine.run(req({ name: 'always', host: { restartPolicy: { name: 'always', maximumRetryCount: 0 } } }));
    await engine.stop('stopped');
    await engine.stop('always');
    // The engine goes down; meanwhile "died" exits 2 (its monitor keeps the status) and "lost" vanishes entirely.
    engine.close();
    const diedAt = clock.now() + 500;
    clock.advance(1_000);
    ports.processes.get(died.id)!.running = false;
    ports.processes.get(died.id)!.exit = { exitCode: 2, signal: '', oomKilled: false, exitedAt: diedAt };
    ports.processes.delete(lost.id);
    reopen();
    events.length = 0;
    const acts = await recover(engine);
    const by = Object.fromEntries(acts.map((a) => [a.id, a]));
    expect(by[alive.id]).toMatchObject({ watch: true, restart: false });
    expect(by[died.id]).toMatchObject({ watch: false, restart: true, exit: { exitCode: 2, exitedAt: diedAt } });
    expect(by[lost.id]).toMatchObject({ restart: false, exit: { exitCode: 255 } });
    expect(by[stopped.id]).toMatchObject({ restart: false });
    expect(by[always.id]).toMatchObject({ restart: true }); // Docker: always restarts on daemon start even if stopped
    expect(engine.store.get(died.id)).toMatchObject({ state: 'restarting', exitCode: 2, finishedAt: diedAt });
    expect(engine.store.get(lost.id)).toMatchObject({ state: 'exited', exitCode: 255, error: expect.stringMatching(/process lost/) });
    expect(engine.store.get(alive.id).state).toBe('running');
    clock.advance(100);
    await flush();
    expect(engine.store.get(died.id)).toMatchObject({ state: 'running', restartCount: 1 });
    expect(engine.store.get(always.id)).toMatchObject({ state: 'running', restartCount: 1 });
    // The re-armed watcher still sees the surviving container's exit.
    ports.exitProcess(alive.id, { exitCode: 9 });
    await flush();
    expect(engine.store.get(alive.id)).toMatchObject({ state: 'exited', exitCode: 9 });
    expect(actions(lost.id)).toEqual(['die(255)', 'exited(255)']);
  });

  it('a create interrupted by an engine crash is discarded at recovery', async () => {
    // The record exists but the saga never finished (no rootfs recorded).
    engine.store.insert(newContainerRecord({ id: 'e'.repeat(64), name: 'half', image: 'alpine', now: 1 }));
    const done = await engine.create(req({ name: 'whole' }));
    reopen();
    const acts = await recover(engine);
    expect(acts.find((a) => a.id === 'e'.repeat(64))).toMatchObject({ discard: true });
    expect(engine.list({ all: true }).map((c) => c.name)).toEqual(['whole']);
    expect(ports.rec.calls).toContain(`layers.remove ${'e'.repeat(64)}`);
    void done;
  });

  it('restart count and policy survive the restart (on-failure max reached stays exited)', async () => {
    const c = await engine.run(req({ host: { restartPolicy: { name: 'on-failure', maximumRetryCount: 1 } } }));
    ports.exitProcess(c.id, { exitCode: 1 }); await flush();
    clock.advance(100); await flush();
    expect(engine.store.get(c.id).restartCount).toBe(1);
    engine.close();
    ports.exitProcess(c.id, { exitCode: 1 });
    reopen();
    await recover(engine);
    expect(engine.store.get(c.id)).toMatchObject({ state: 'exited', restartCount: 1, exitCode: 1 });
  });

  it('decideRecovery table', () => {
    const rec = (state: 'running' | 'exited' | 'created' | 'restarting', policy: 'no' | 'always' | 'unless-stopped' | 'on-failure', manual = false, exitCode = 0) => ({
      ...newContainerRecord({ id: 'x', name: 'x', image: 'i', now: 0, hostConfig: { restartPolicy: { name: policy, maximumRetryCount: 0 } } }),
      seq: 1, state, manuallyStopped: manual, exitCode,
    });
    const exit = (code: number) => ({ pid: 1, running: false, exit: { exitCode: code, signal: '', oomKilled: false, exitedAt: 5 } });
    expect(decideRecovery(rec('running', 'no'), { pid: 7, running: true, exit: null }, 9)).toEqual({ id: 'x', watch: true, pid: 7, restart: false });
    expect(decideRecovery(rec('running', 'on-failure'), exit(0), 9).restart).toBe(false);
    expect(decideRecovery(rec('running', 'on-failure'), exit(1), 9).restart).toBe(true);
    expect(decideRecovery(rec('running', 'unless-stopped'), undefined, 9)).toMatchObject({ restart: true, exit: { exitCode: 255, exitedAt: 9 } });
    expect(decideRecovery(rec('exited', 'always', true), undefined, 9).restart).toBe(true);
    expect(decideRecovery(rec('exited', 'unless-stopped', true), undefined, 9).restart).toBe(false);
    expect(decideRecovery(rec('exited', 'unless-stopped', false), undefined, 9).restart).toBe(true);
    expect(decideRecovery(rec('exited', 'on-failure', true, 1), undefined, 9).restart).toBe(false);
    expect(decideRecovery(rec('exited', 'no', false, 1), undefined, 9).restart).toBe(false);
    expect(decideRecovery(rec('created', 'always'), undefined, 9).restart).toBe(false);
    expect(decideRecovery(rec('restarting', 'always'), undefined, 9).restart).toBe(true);
  });
});

function catchSync(fn: () => unknown): unknown {
  try { fn(); } catch (e) { return e; }
  return undefined;
}
