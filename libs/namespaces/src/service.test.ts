// The namespaces service through its real gRPC server and client: real
// berth-shim/berth-monitor containers (root) on a busybox rootfs, a real
// nats-server for the exit events. Every container is force-deleted in
// afterEach through a Runtime over the same paths, even when the service is
// down or a test failed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runServices, type RunningStack } from '@berth/daemon';
import { isInvalidArgument, isNotFound, isFailedPrecondition, type BerthError, rejection } from '@berth/errors';
import { waitForEventsStream, startNatsServer, subjects, subscribeEvents, type CloudEvent, type NatsServerHandle } from '@berth/events';
import { createClient, stateDir, tempPaths, type BerthClient, type TempPaths } from '@berth/kit';
import type { eventsV1, namespacesV1, typesV1 } from '@berth/proto';
import { Runtime, berthShim, type ContainerSpec, type ProcessSpec } from '@berth/runtime';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../../runtime/src/testing/busybox-rootfs';
import { namespacesModule } from './index';

type Client = BerthClient<namespacesV1.NamespacesDefinition, namespacesV1.NamespacesHandlers>;

let rootfs: BusyboxRootfs;
let nats: NatsServerHandle;

beforeAll(async () => {
  execFileSync('make', ['-C', resolve(__dirname, '../../../native'), 'build/berth-monitor', 'build/berth-shim'], { stdio: 'ignore' });
  rootfs = makeBusyboxRootfs();
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
  rootfs?.cleanup();
});



/** Exit events for container id published since `since`, until one arrives or 10 s pass. */
async function exitEvent(id: string, since: Date): Promise<CloudEvent | undefined> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  try {
    for await (const ev of subscribeEvents({ servers: nats.url, since, filter: subjects.namespacesExited, signal: abort.signal })) {
      if (ev.subject === id) return ev;
    }
  } catch (e) {
    if (!abort.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return undefined;
}

/** Every exit event of id published since `since` (collected for 2 s). */
async function allExitEvents(id: string, since: Date): Promise<CloudEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 2000);
  const out: CloudEvent[] = [];
  try {
    for await (const ev of subscribeEvents({ servers: nats.url, since, filter: subjects.namespacesExited, signal: abort.signal })) {
      if (ev.subject === id) out.push(ev);
    }
  } catch (e) {
    if (!abort.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return out;
}

function proc(args: string[], extra: Partial<typesV1.Process> = {}): typesV1.Process {
  return { args, env: ['PATH=/bin', 'TERM=dumb'], ...extra };
}

function spec(args: string[], extra: Partial<typesV1.ContainerSpec> = {}): typesV1.ContainerSpec {
  return { process: proc(args), root: { path: rootfs.rootfs }, ...extra };
}

describe('namespaces service over gRPC', () => {
  let paths: TempPaths | undefined;
  let stack: RunningStack | undefined;
  let client: Client | undefined;

  const start = async (): Promise<Client> => {
    paths ??= tempPaths();
    stack = await runServices([namespacesModule], { paths, natsUrl: nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }), drainMs: 2000 });
    const info = stack.hosts[0]!.info;
    client = createClient<namespacesV1.NamespacesDefinition, namespacesV1.NamespacesHandlers>('berth.namespaces.v1.Namespaces', [`unix:${info.socket}`], { timeoutMs: 30_000 });
    await waitForEventsStream(nats.url);
    return client;
  };
  const stop = async () => {
    client?.close();
    client = undefined;
    await stack?.stop();
    stack = undefined;
  };

  afterEach(async () => {
    try {
      await stop();
    } finally {
      if (paths) {
        // The containers outlive the service: remove them with a Runtime of our own.
        const rt = new Runtime<ContainerSpec, ProcessSpec>({
          root: join(paths.run, 'namespaces'),
          runDir: paths.run,
          logDir: join(stateDir('namespaces', paths), 'logs'),
          shim: berthShim(),
        });
        try {
          for (const c of rt.list()) await rt.delete(c.id, { force: true }).catch(() => undefined);
        } finally {
          rt.close();
          paths.cleanup();
          paths = undefined;
        }
      }
    }
  });

  function attachCollect(c: Client, target: namespacesV1.AttachTarget): Promise<{ stdout: string; stderr: string; exit?: namespacesV1.ExitStatus__Output }> {
    return new Promise((res, rej) => {
      const call = c.Attach();
      const r = { stdout: '', stderr: '', exit: undefined as namespacesV1.ExitStatus__Output | undefined };
      call.on('data', (m: namespacesV1.AttachOutput__Output) => {
        if (m.stdout) r.stdout += m.stdout.toString();
        if (m.stderr) r.stderr += m.stderr.toString();
        if (m.exit) r.exit = m.exit;
      });
      call.on('end', () => res(r));
      call.on('error', rej);
      call.write({ target });
      call.end();
    });
  }

  async function logsOf(c: Client, id: string, follow = false): Promise<string> {
    let out = '';
    for await (const e of c.Logs({ id, follow })) out += (e as namespacesV1.LogEntry__Output).line.toString();
    return out;
  }

  it('creates in new namespaces, starts, waits, logs (ps sees only the container), publishes the exit, deletes', async () => {
    const c = await start();
    const since = new Date(Date.now() - 1000);
    const created = await c.Create({
      id: 'life',
      spec: spec(['sh', '-c', 'hostname; ps -o pid,comm; exit 3'], {
        hostname: 'bt-life',
        linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }] },
        annotations: { 'berth.name': 'life' },
      }),
    });
    expect(created.pid).toBeGreaterThan(0);
    expect(created.monitorPid).toBeGreaterThan(0);
    expect(Object.keys(created.namespacePaths).sort()).toEqual(['ipc', 'mount', 'pid', 'uts']);
    expect(created.namespacePaths['network']).toBeUndefined();
    expect(await c.State({ id: 'life' })).toMatchObject({ id: 'life', status: 'created', pid: created.pid, annotations: { 'berth.name': 'life' } });

    await c.Start({ id: 'life' });
    const exit = await c.Wait({ id: 'life' });
    expect(exit).toMatchObject({ exitCode: 3, signal: '', oomKilled: false });
    expect(exit.exitedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const out = await logsOf(c, 'life');
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('bt-life');
    // PID header, then only the container's processes: sh as pid 1 and ps
    // (the host's processes, and the monitor, are in another pid namespace).
    expect(lines[1], out).toMatch(/PID\s+COMMAND/);
    const procs = lines.slice(2).map((l) => l.trim().split(/\s+/));
    expect(procs.map((p) => p[1]).sort(), out).toEqual(['ps', 'sh']);
    expect(procs.find((p) => p[1] === 'sh')?.[0], out).toBe('1');

    const st = await c.State({ id: 'life' });
    expect(st).toMatchObject({ status: 'stopped', exit: { exitCode: 3 } });
    expect((await c.List({})).containers.map((x) => x.id)).toEqual(['life']);

    const ev = await exitEvent('life', since);
    expect(ev).toBeDefined();
    expect(ev!.data as eventsV1.ProcessExitEvent__Output).toMatchObject({ containerId: 'life', exitCode: 3, pid: created.pid, execId: '' });

    await c.Delete({ id: 'life' });
    expect(isNotFound(await rejection(c.State({ id: 'life' })))).toBe(true);
    expect((await c.List({})).containers).toEqual([]);
  });

  it('reports 127 for a missing executable and typed errors for bad input and unknown ids', async () => {
    const c = await start();
    await c.Create({ id: 'nox', spec: spec(['/bin/does-not-exist']) });
    await c.Start({ id: 'nox' }).catch(() => undefined); // the shim may report the failed execve itself
    expect((await c.Wait({ id: 'nox' })).exitCode).toBe(127);

    const missing = await rejection(c.State({ id: 'nope' }));
    expect(isNotFound(missing)).toBe(true);
    expect(isNotFound(await rejection(c.Wait({ id: 'nope' })))).toBe(true);
    expect(isNotFound(await rejection(c.Start({ id: 'nope' })))).toBe(true);
    await c.Delete({ id: 'nope', force: true }); // force: a missing id is fine

    const noArgs = await rejection(c.Create({ id: 'bad', spec: spec([]) }));
    expect(isInvalidArgument(noArgs)).toBe(true);
    expect(noArgs.field).toBe('spec.process.args');
    const badCap = await rejection(c.Create({ id: 'bad', spec: { ...spec(['true']), process: proc(['true'], { capabilities: { bounding: ['CAP_NOPE'] } }) } }));
    expect(isInvalidArgument(badCap)).toBe(true);
    expect(badCap.field).toBe('spec.process.capabilities.bounding[0]');
    const badId = await rejection(c.Create({ id: '../x', spec: spec(['true']) }));
    expect(isInvalidArgument(badId)).toBe(true);
    const noRoot = await rejection(c.Create({ id: 'noroot', spec: { ...spec(['true']), root: { path: '/nonexistent/berth-root' } } }));
    expect(isFailedPrecondition(noRoot)).toBe(true);
    expect((await c.List({})).containers.map((x) => x.id)).toEqual(['nox']);
  });

  it('execs, waits for execs, attaches to an exec and to a cat init over stdin, lists pids, stops', async () => {
    const c = await start();
    await c.Create({ id: 'box', spec: spec(['sleep', '1000']) });
    await c.Start({ id: 'box' });

    const e1 = await c.Exec({ id: 'box', execId: 'e1', process: proc(['sh', '-c', 'exit 5']) });
    expect(e1.pid).toBeGreaterThan(0);
    expect((await c.WaitExec({ id: 'box', execId: 'e1' })).exitCode).toBe(5);

    // The exec's output from before the Attach is kept for it.
    await c.Exec({ id: 'box', execId: 'e2', process: proc(['sh', '-c', 'echo out; echo err >&2; exit 4']) });
    const got = await attachCollect(c, { id: 'box', execId: 'e2' });
    expect(got).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exit: { exitCode: 4 } });
    // Attaching again to the finished exec: no output left, its exit from the record.
    expect(await attachCollect(c, { id: 'box', execId: 'e2' })).toMatchObject({ stdout: '', stderr: '', exit: { exitCode: 4 } });
    expect(isNotFound(await rejection(attachCollect(c, { id: 'box', execId: 'nope' })))).toBe(true);

    const pids = (await c.ListPids({ id: 'box' })).processes;
    expect(pids.some((p) => p.cmd.startsWith('sleep 1000'))).toBe(true);

    // A cancelled Logs follow ends on the server at once, not at the exit.
    const follow = c.Logs({ id: 'box', follow: true });
    await new Promise<void>((res) => {
      follow.on('data', () => undefined);
      follow.on('error', () => res());
      follow.on('end', () => res());
      setTimeout(() => follow.cancel(), 200);
    });
    const metricsUrl = stack!.hosts[0]!.info.metricsUrl!;
    const handledLogs = async () => /grpc_server_handled_total\{[^}]*grpc_method="Logs"[^}]*\} 1/.test(await (await fetch(metricsUrl)).text());
    const until = Date.now() + 3000;
    while (!(await handledLogs()) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await handledLogs()).toBe(true);

    // sleep as pid 1 ignores SIGTERM: Stop escalates to SIGKILL.
    const stopped = await c.Stop({ id: 'box', timeoutSeconds: 1 });
    expect(stopped).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    expect(isFailedPrecondition(await rejection(c.Exec({ id: 'box', execId: 'e3', process: proc(['true']) })))).toBe(true);

    // Attach to a cat init: stdin round-trips, close_stdin ends it.
    await c.Create({ id: 'cat', spec: spec(['cat']), stdin: true });
    await c.Start({ id: 'cat' });
    const call = c.Attach();
    const echoed = await new Promise<{ out: string; exit?: namespacesV1.ExitStatus__Output }>((res, rej) => {
      let out = '';
      let exit: namespacesV1.ExitStatus__Output | undefined;
      call.on('data', (m: namespacesV1.AttachOutput__Output) => {
        if (m.stdout) {
          out += m.stdout.toString();
          if (out === 'hello berth\n') call.write({ closeStdin: true });
        }
        if (m.exit) exit = m.exit;
      });
      call.on('end', () => res({ out, exit }));
      call.on('error', rej);
      call.write({ target: { id: 'cat' } });
      // Give the monitor the attach before the bytes (input is ordered anyway).
      call.write({ stdin: Buffer.from('hello berth\n') });
    });
    call.end();
    expect(echoed).toMatchObject({ out: 'hello berth\n', exit: { exitCode: 0 } });
    expect((await c.Wait({ id: 'cat' })).exitCode).toBe(0);
    expect(await logsOf(c, 'cat')).toBe('hello berth\n');
  });

  it("capabilities: unset is Docker's set, an empty message none at all (--cap-drop ALL), for the init and an exec", async () => {
    const c = await start();
    const none = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
    const caps = "grep -E '^Cap(Bnd|Eff|Prm)' /proc/self/status";
    const zero = 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n';
    await c.Create({ id: 'nocaps-init', spec: { ...spec([]), process: proc(['sh', '-c', caps], { capabilities: none }) } });
    await c.Start({ id: 'nocaps-init' });
    expect((await c.Wait({ id: 'nocaps-init' })).exitCode).toBe(0);
    expect(await logsOf(c, 'nocaps-init')).toBe(zero);
    await c.Create({ id: 'nocaps', spec: { ...spec([]), process: proc(['sleep', '1000'], { capabilities: none }) } });
    await c.Start({ id: 'nocaps' });
    await c.Exec({ id: 'nocaps', execId: 'none', process: proc(['sh', '-c', caps], { capabilities: none }) });
    expect(await attachCollect(c, { id: 'nocaps', execId: 'none' })).toMatchObject({ stdout: zero, exit: { exitCode: 0 } });
    // An exec that leaves capabilities unset gets Docker's default set.
    await c.Exec({ id: 'nocaps', execId: 'dflt', process: proc(['sh', '-c', caps]) });
    const dflt = await attachCollect(c, { id: 'nocaps', execId: 'dflt' });
    expect(dflt.stdout).toContain('CapEff:\t00000000a80425fb\n');
    await c.Delete({ id: 'nocaps', force: true });
    await c.Delete({ id: 'nocaps-init' });
  });

  it('signals by name, follows logs until the exit, publishes exec exits', async () => {
    const c = await start();
    const since = new Date(Date.now() - 1000);
    await c.Create({ id: 'trap', spec: spec(['sh', '-c', 'trap "echo got TERM; exit 11" TERM; echo ready; while true; do sleep 0.05; done']) });
    await c.Start({ id: 'trap' });
    const deadline = Date.now() + 10_000;
    while (!(await logsOf(c, 'trap')).includes('ready\n')) {
      if (Date.now() > deadline) throw new Error('trap container never got ready');
      await new Promise((r) => setTimeout(r, 50));
    }
    const followed = logsOf(c, 'trap', true);
    await c.Exec({ id: 'trap', execId: 'x1', process: proc(['sh', '-c', 'exit 6']) });
    expect((await c.WaitExec({ id: 'trap', execId: 'x1' })).exitCode).toBe(6);
    const bad = await rejection(c.Signal({ id: 'trap', signal: 'SIGNOPE' }));
    expect(isInvalidArgument(bad)).toBe(true);
    await c.Signal({ id: 'trap', signal: 'TERM' });
    expect(await followed).toBe('ready\ngot TERM\n');
    expect((await c.Wait({ id: 'trap' })).exitCode).toBe(11);

    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    let execEvent: CloudEvent | undefined;
    try {
      for await (const ev of subscribeEvents({ servers: nats.url, since, filter: subjects.namespacesExecExited, signal: abort.signal })) {
        if (ev.subject === 'trap') {
          execEvent = ev;
          break;
        }
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    expect(execEvent?.data as eventsV1.ProcessExitEvent__Output).toMatchObject({ containerId: 'trap', execId: 'x1', exitCode: 6 });
  });

  it('an attach with the log replayed meets the live output exactly: nothing lost, nothing twice', async () => {
    const c = await start();
    // Writes fast on both streams for a while; attaches land mid-stream.
    const script = 'i=0; while [ $i -lt 4000 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done; printf end';
    await c.Create({ id: 'gap', spec: spec(['sh', '-c', script]) });
    await c.Start({ id: 'gap' });
    const got = await Promise.all([0, 5, 20, 60].map(async (ms) => {
      await new Promise((r) => setTimeout(r, ms));
      return attachCollect(c, { id: 'gap', execId: '', logs: true });
    }));
    const want = (p: string) => Array.from({ length: 4000 }, (_, i) => `${p}${i}\n`).join('');
    for (const g of got) {
      expect(g.stdout).toBe(`${want('o')}end`);
      expect(g.stderr).toBe(want('e'));
      expect(g.exit).toMatchObject({ exitCode: 0 });
    }
    await c.Delete({ id: 'gap' });
  });

  it('runs a terminal process on a pty', async () => {
    const c = await start();
    const args = ['sh', '-c', 'tty; stty size; exit 2'];
    await c.Create({ id: 'tty', spec: { ...spec(args), process: proc(args, { terminal: true, consoleSize: { height: 31, width: 97 } }) } });
    expect(await c.State({ id: 'tty' })).toMatchObject({ status: 'created' });
    await c.Start({ id: 'tty' });
    expect((await c.Wait({ id: 'tty' })).exitCode).toBe(2);
    // The initial console size was applied before the process ran.
    expect(await logsOf(c, 'tty')).toMatch(/^\/dev\/pts\/\d+\r?\n31 97\r?\n$/);
  });

  it('finds a running container again after a restart, waits for it, and publishes exits that happened while down', async () => {
    let c = await start();
    const since = new Date(Date.now() - 1000);
    const waitFor = (name: string, code: number) => spec(['sh', '-c', `while [ ! -e /tmp/${name} ]; do sleep 0.05; done; exit ${code}`]);
    const a = await c.Create({ id: 'keep', spec: waitFor('go-keep', 7) });
    await c.Start({ id: 'keep' });
    await c.Create({ id: 'gone', spec: waitFor('go-gone', 9) });
    await c.Start({ id: 'gone' });

    await stop();
    // The container's exit while no service runs: recorded by its monitor.
    writeFileSync(join(rootfs.rootfs, 'tmp', 'go-gone'), '');
    const rt = new Runtime<ContainerSpec, ProcessSpec>({ root: join(paths!.run, 'namespaces'), runDir: paths!.run, logDir: join(stateDir('namespaces', paths!), 'logs'), shim: berthShim() });
    try {
      expect((await rt.wait('gone')).exitCode).toBe(9);
    } finally {
      rt.close();
    }

    c = await start();
    expect(await c.State({ id: 'keep' })).toMatchObject({ status: 'running', pid: a.pid });
    expect(await c.State({ id: 'gone' })).toMatchObject({ status: 'stopped', exit: { exitCode: 9 } });
    const goneEvent = await exitEvent('gone', since);
    expect(goneEvent?.data as eventsV1.ProcessExitEvent__Output).toMatchObject({ containerId: 'gone', exitCode: 9 });

    const waiting = c.Wait({ id: 'keep' });
    writeFileSync(join(rootfs.rootfs, 'tmp', 'go-keep'), '');
    expect((await waiting).exitCode).toBe(7);
    const keepEvent = await exitEvent('keep', since);
    expect(keepEvent?.data as eventsV1.ProcessExitEvent__Output).toMatchObject({ containerId: 'keep', exitCode: 7, pid: a.pid });

    // Another restart publishes neither exit again.
    await stop();
    c = await start();
    expect(await allExitEvents('gone', since)).toHaveLength(1);
    expect(await allExitEvents('keep', since)).toHaveLength(1);
  });
});
