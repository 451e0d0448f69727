// The namespaces adapter's overlap of the cgroup move with the rest of the
// start saga (docs/design/engine.md, "Run path latency"): AddProcess is sent
// at create and not awaited there, but start() lets the init exec only after
// it succeeded, a failed move fails start (so the saga undoes createProcess),
// and a delete during rollback waits for a move still in flight.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '@berth/errors';
import type { ProcessSpec } from '../ports';
import type { CgroupsClient } from './cgroups';
import { capabilitiesOf, grpcNamespacesPort, type NamespacesClient } from './namespaces';
import { ContainerFiles } from './shared';

const spec = (logPath: string): ProcessSpec => ({
  rootfs: '/r', readonlyRootfs: false, args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], hostname: 'h',
  terminal: false, openStdin: false, cgroupPath: '/sys/fs/cgroup/x', mounts: [], capAdd: [], capDrop: [], init: false,
  usernsMode: '', networkMode: 'none', logPath, logBounds: { maxSize: 1024, maxFiles: 2 }, securityOpt: [],
});

/** Test doubles of the two gRPC clients: they log calls; AddProcess is settled by the test. */
function clients(logged: { time: string; stream: string; line: Buffer }[] = []) {
  const calls: string[] = [];
  const creates: Record<string, unknown>[] = [];
  let settle!: { resolve: () => void; reject: (e: Error) => void };
  const ns = {
    async Create(req: { id: string }) { calls.push(`Create ${req.id}`); creates.push(req); return { pid: 4242, namespacePaths: {}, monitorPid: 1 }; },
    async Start(req: { id: string }) { calls.push(`Start ${req.id}`); return {}; },
    async Delete(req: { id: string }) { calls.push(`Delete ${req.id}`); return {}; },
    async Signal(req: { id: string }) { calls.push(`Signal ${req.id}`); return {}; },
    async Exec(req: { id: string }) { calls.push(`Exec ${req.id}`); creates.push(req); return { pid: 4343 }; },
    Logs() { return (async function* () { yield* logged; })(); },
  } as unknown as NamespacesClient;
  const cg = {
    AddProcess(req: { id: string; pid: number }) {
      calls.push(`AddProcess ${req.id} ${req.pid}`);
      return new Promise<object>((resolve, reject) => { settle = { resolve: () => { calls.push(`AddProcess done ${req.id}`); resolve({}); }, reject }; });
    },
  } as unknown as CgroupsClient;
  return { calls, creates, ns, cg, settle: () => settle };
}

describe('grpc namespaces port: the cgroup move overlaps the rest of the start', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'berth-nsport-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('create returns before the move; start execs the init only after it', async () => {
    const c = clients();
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir) });
    expect(await port.create('c1', spec(join(dir, 'c1.log')))).toEqual({ pid: 4242 });
    expect(c.calls).toEqual(['Create c1', 'AddProcess c1 4242']);
    const started = port.start('c1');
    await new Promise((r) => setTimeout(r, 20));
    expect(c.calls).not.toContain('Start c1'); // still moving
    c.settle().resolve();
    await started;
    expect(c.calls.slice(-2)).toEqual(['AddProcess done c1', 'Start c1']);
    await port.close();
  });

  it('a failed move fails start, and the init never execs', async () => {
    const c = clients();
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir) });
    await port.create('c2', spec(join(dir, 'c2.log')));
    c.settle().reject(new NotFoundError('pid: process 4242 does not exist', { field: 'pid' }));
    await expect(port.start('c2')).rejects.toThrow(/process 4242 does not exist/);
    expect(c.calls).not.toContain('Start c2');
    await port.close();
  });

  it('a delete during rollback waits for a move still in flight', async () => {
    const c = clients();
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir) });
    await port.create('c3', spec(join(dir, 'c3.log')));
    const deleted = port.delete('c3');
    await new Promise((r) => setTimeout(r, 20));
    expect(c.calls).not.toContain('Delete c3');
    c.settle().resolve();
    await deleted;
    expect(c.calls.slice(-2)).toEqual(['AddProcess done c3', 'Delete c3']);
    await port.close();
  });
});

describe('grpc namespaces port: the container log', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'berth-nsport-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--log-opt bounds go to Create, and the engine\'s copy of the log is rotated with the same bounds', async () => {
    const t = (i: number) => `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000000000Z`;
    const c = clients(Array.from({ length: 100 }, (_, i) => ({ time: t(i), stream: 'stdout', line: Buffer.from(`line ${i}\n`) })));
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir) });
    const logPath = join(dir, 'c1', 'container.log');
    const created = port.create('c1', spec(logPath));
    await created;
    expect(c.creates[0]).toMatchObject({ logMaxSize: 1024, logMaxFiles: 2 });
    c.settle().resolve();
    await port.start('c1');
    await port.delete('c1'); // waits for the copy to drain
    const files = readdirSync(join(dir, 'c1')).sort();
    expect(files).toEqual(['container.log', 'container.log.1']);
    for (const f of files) expect(statSync(join(dir, 'c1', f)).size).toBeLessThanOrEqual(1024);
    const lines = readFileSync(`${logPath}.1`, 'utf8') + readFileSync(logPath, 'utf8');
    expect(lines.trimEnd().split('\n').at(-1)).toBe(`${t(99)} stdout F line 99`);
    // Never rotating travels as -1 (0 on the wire means the service's default).
    await port.create('c2', { ...spec(join(dir, 'c2.log')), logBounds: { maxSize: 0, maxFiles: 5 } });
    expect(c.creates[1]).toMatchObject({ logMaxSize: -1, logMaxFiles: 5 });
    c.settle().resolve();
    await port.delete('c2');
    await port.close();
  });

  it('the copy of the log follows from create (before Start): a quick exit finds it streaming, and wait() reports the exit with every line copied', async () => {
    const t = (i: number) => `2026-01-01T00:00:0${i}.000000000Z`;
    const c = clients();
    let exited!: () => void;
    const exit = new Promise<void>((r) => { exited = r; });
    (c.ns as unknown as { Logs: () => AsyncIterable<unknown> }).Logs = () => {
      c.calls.push('Logs c1');
      return (async function* () {
        await exit; // the follow of a created container: its output comes after Start, it ends at the exit
        yield { time: t(1), stream: 'stdout', line: Buffer.from('quick\n') };
      })();
    };
    (c.ns as unknown as { Wait: () => Promise<unknown> }).Wait = async () => {
      exited();
      return { exitCode: 0, signal: '', oomKilled: false, exitedAt: t(2) };
    };
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir) });
    const logPath = join(dir, 'c1', 'container.log');
    await port.create('c1', spec(logPath));
    for (let i = 0; i < 200 && !c.calls.includes('Logs c1'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(c.calls).toEqual(['Create c1', 'AddProcess c1 4242', 'Logs c1']);
    c.settle().resolve();
    await port.start('c1');
    expect(c.calls.filter((x) => x === 'Logs c1')).toHaveLength(1); // start did not open a second copy
    expect((await port.wait('c1', 1000))?.exitCode).toBe(0);
    expect(readFileSync(logPath, 'utf8')).toBe(`${t(1)} stdout F quick\n`);
    await port.delete('c1');
    await port.close();
  });

  it('reopenLog (the CRI\'s ReopenContainerLog): after the log was renamed, what the container writes next is in a new file at the log path', async () => {
    const t = (i: number) => `2026-01-01T00:00:0${i}.000000000Z`;
    const c = clients();
    // The container's output, handed out as the test says (a live follow).
    const queue: ({ time: string; stream: string; line: Buffer } | null)[] = [];
    let wake: () => void = () => undefined;
    const say = (x: { time: string; stream: string; line: Buffer } | null) => { queue.push(x); wake(); };
    (c.ns as unknown as { Logs: () => AsyncIterable<unknown> }).Logs = () => (async function* () {
      for (;;) {
        while (!queue.length) await new Promise<void>((r) => { wake = r; });
        const x = queue.shift()!;
        if (!x) return; // the exit
        yield x;
      }
    })();
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir) });
    const logPath = join(dir, 'pod', 'c1.log');
    await expect(port.reopenLog('c1')).rejects.toThrow(/not running/); // never started: nothing written
    await port.create('c1', spec(logPath));
    c.settle().resolve();
    await port.start('c1');
    say({ time: t(1), stream: 'stdout', line: Buffer.from('before\n') });
    while (!existsSync(logPath) || !readFileSync(logPath, 'utf8').includes('before')) await new Promise((r) => setTimeout(r, 5));
    renameSync(logPath, `${logPath}.rotated`);
    await port.reopenLog('c1');
    expect(existsSync(logPath)).toBe(true); // there at once, as the CRI asks
    say({ time: t(2), stream: 'stdout', line: Buffer.from('after\n') });
    say(null);
    await port.delete('c1'); // waits for the copy to drain
    expect(readFileSync(`${logPath}.rotated`, 'utf8')).toBe(`${t(1)} stdout F before\n`);
    expect(readFileSync(logPath, 'utf8')).toBe(`${t(2)} stdout F after\n`);
    await expect(port.reopenLog('c1')).rejects.toThrow(/not running/); // exited: its log is not written any more
    await port.close();
  });

  it('a log mirror whose stream fails resumes where it left off: every line once, none lost (it used to stop for good)', async () => {
    const t = (i: number) => `2026-01-01T00:00:0${i}.000000000Z`;
    const e = (i: number, text: string) => ({ time: t(i), stream: 'stdout', line: Buffer.from(`${text}\n`) });
    const entries = [e(1, 'a'), e(2, 'b1'), e(2, 'b2'), e(2, 'b3'), e(3, 'c')];
    const c = clients();
    let calls = 0;
    (c.ns as unknown as { Logs: () => AsyncIterable<unknown> }).Logs = () => (async function* () {
      // The first stream breaks after three entries (a service restart, a message refused).
      const n = ++calls;
      for (const [i, x] of entries.entries()) {
        if (n === 1 && i === 3) throw Object.assign(new Error('stream broke'), { code: 'Unavailable' });
        yield x;
      }
    })();
    const warned: string[] = [];
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir), warn: (m) => warned.push(m) });
    const logPath = join(dir, 'c1', 'container.log');
    await port.create('c1', spec(logPath));
    c.settle().resolve();
    await port.start('c1');
    await port.delete('c1'); // waits for the copy to drain
    expect(calls).toBe(2);
    expect(warned.join('\n')).toMatch(/stream broke; resuming/);
    expect(readFileSync(logPath, 'utf8').trimEnd().split('\n').map((l) => l.split(' ').slice(3).join(' '))).toEqual(['a', 'b1', 'b2', 'b3', 'c']);
    await port.close();
  });

  it('the next engine\'s mirror (after a kill) resumes after exactly the records the copy holds: the rest of a read cut in the middle is copied once (chaos: 2 of 7 lines)', async () => {
    const t = (i: number) => `2026-01-01T00:00:0${i}.000000000Z`;
    // One read of the monitor stamps its records alike: b1..b3 share a time.
    const entries = [['a', 1], ['b1', 2], ['b2', 2], ['b3', 2], ['c', 3]].map(([text, i]) => ({ time: t(i as number), stream: 'stdout', line: Buffer.from(`${text}\n`) }));
    const c = clients(entries);
    const logPath = join(dir, 'c1', 'container.log');
    // The engine killed after writing b2: its copy holds a, b1, b2.
    mkdirSync(join(dir, 'c1'));
    writeFileSync(logPath, `${t(1)} stdout F a\n${t(2)} stdout F b1\n${t(2)} stdout F b2\n`);
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir) });
    port.mirrorLogs('c1', logPath, { maxSize: 1 << 20, maxFiles: 2 }); // what recovery starts
    await port.delete('c1'); // waits for the copy to drain
    expect(readFileSync(logPath, 'utf8').trimEnd().split('\n').map((l) => l.split(' ').slice(3).join(' '))).toEqual(['a', 'b1', 'b2', 'b3', 'c']);
    await port.close();
  });

  it('delete waits for a mirror reconnecting to a namespaces service that takes long to serve again (chaos: an empty log after a namespaces kill)', async () => {
    const entries = ['a', 'b'].map((text, i) => ({ time: `2026-01-01T00:00:0${i}.000000000Z`, stream: 'stdout', line: Buffer.from(`${text}\n`) }));
    const c = clients();
    // Killed under the first stream; refusing connections for longer than the 5 s a silent copy gets.
    const backAt = Date.now() + 6500;
    (c.ns as unknown as { Logs: () => AsyncIterable<unknown> }).Logs = () => (async function* () {
      if (Date.now() < backAt) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'Unavailable' });
      yield* entries;
    })();
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir), warn: () => undefined });
    const logPath = join(dir, 'c1', 'container.log');
    await port.create('c1', spec(logPath));
    c.settle().resolve();
    await port.start('c1');
    await port.delete('c1');
    expect(readFileSync(logPath, 'utf8').trimEnd().split('\n').map((l) => l.split(' ').slice(3).join(' '))).toEqual(['a', 'b']);
    await port.close();
  }, 30_000);
});

describe('grpc namespaces port: capabilities', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'berth-nsport-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--cap-drop ALL sends a capabilities message with every set empty (none at all) to the init and to an exec, never an unset one (the defaults)', async () => {
    const none = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
    expect(capabilitiesOf([], ['ALL'])).toEqual(none);
    expect(capabilitiesOf([], ['all'])).toEqual(none);
    expect(capabilitiesOf(['NET_RAW'], ['ALL'])).toMatchObject({ bounding: ['CAP_NET_RAW'], effective: ['CAP_NET_RAW'], permitted: ['CAP_NET_RAW'] });
    expect(capabilitiesOf([], [])).toBeUndefined();

    const c = clients();
    const port = grpcNamespacesPort({ namespaces: c.ns, cgroups: c.cg, files: new ContainerFiles(dir) });
    await port.create('c1', { ...spec(join(dir, 'c1.log')), capDrop: ['ALL'] });
    expect((c.creates[0] as { spec: { process: { capabilities?: unknown } } }).spec.process.capabilities).toEqual(none);
    await port.exec('c1', 'e1', { args: ['id'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], terminal: false, openStdin: false, capAdd: [], capDrop: ['ALL'], privileged: false, noNewPrivileges: false });
    expect((c.creates[1] as { process: { capabilities?: unknown } }).process.capabilities).toEqual(none);
    c.settle().resolve();
    await port.close();
  });
});
