// Chaos: 200 container lifecycles on a split stack (one process per service)
// while a random service is killed with SIGKILL every few lifecycles, with
// no operator action: the supervisor restarts what dies. A client retries
// the calls a killed service made fail, as a real client would (a create by
// its name, so a retried create finds the first one), and the check is that
// the stack heals and loses nothing: every exit code and every log line
// arrives, and at the end no container, process, mount, cgroup, veth, IP or
// state directory is left.
//
// Lifecycles run a few at a time. Each prints a known number of lines and
// exits with a known code; one in four is --rm (the engine removes it and
// Wait(removed) answers the code), one in two is on the default bridge.
// It runs apart from `npm test` (`npm run test:chaos`): it passes, but takes
// 2-4.5 min on two CPUs at a load of 10-16 and 11-13 min at CI's load, too
// long for the suite every change runs (docs/ARCHITECTURE.md, "Healing", has its
// runs and what each failure was); what a kill in the middle of a create or
// start leaves, and how a retried start gets past it, is tested one leftover
// at a time in chaos-leftovers.test.ts, which `npm test` runs.
//
// The leak checks at the end rely on each service healing its own facts:
// the engine's recovery and its reconcile of the layers service's writable
// roots (root-reconcile.ts: at start, and after a layers call a kill cut),
// the cgroups and networks services' Reconcile. The log checks rely on the
// engine's log mirror resuming exactly where its copy stops, also in the
// middle of one read of the monitor (grpc-ports/namespaces.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, errorCode, isAlreadyExists, isNotFound } from '@berth/errors';
import { readDaemonRecord } from '@berth/daemon';
import { GRPC_SERVICE, waitServing, socketPath, type ServiceName } from '@berth/kit';
import type { engineV1, layersV1 } from '@berth/proto';
import { bridgePorts, cgroupDirsUnder, mountsUnder, startCliStack, until, type CliStack } from './support/cli-stack';

const LIFECYCLES = Number(process.env.BERTH_CHAOS_LIFECYCLES ?? 200);
const PARALLEL = 6;
/** A kill after every this many finished lifecycles. */
const KILL_EVERY = 10;
const SERVICES = ['engine', 'namespaces', 'cgroups', 'layers', 'networks', 'images'] as const satisfies readonly ServiceName[];

/** Errors a killed service makes a call fail with: the call may be made again. */
function retriable(e: unknown): boolean {
  const c = errorCode(e);
  return c === ErrorCode.Unavailable || c === ErrorCode.Cancelled || c === ErrorCode.DeadlineExceeded
    || /cannot reach|Connection dropped|ECONNRESET|ECONNREFUSED|socket hang up/i.test((e as Error).message ?? '');
}

/** Calls `fn` until it succeeds or fails for another reason than a killed service (at most 120 s). */
async function retry<T>(what: string, fn: () => Promise<T>, stats: { retries: number }): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await fn();
    } catch (e) {
      if (!retriable(e) || Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
      stats.retries++;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('chaos: lifecycles while services are killed', () => {
  let s: CliStack;
  beforeAll(async () => {
    s = await startCliStack(true, 71);
    await until('busybox image', async () => ((await s.berth(['image', 'inspect', 'busybox'])).code === 0 ? true : undefined), 30_000);
  }, 150_000);
  afterAll(async () => {
    await s?.stop();
  }, 180_000);

  it(`${LIFECYCLES} lifecycles with a service SIGKILLed every ${KILL_EVERY}: no exit code or log line lost, nothing leaked`, async () => {
    const stats = { retries: 0 };
    const kills: string[] = [];
    const failures: string[] = [];
    /** --rm lifecycles whose Wait(removed) was cut by an engine kill after the removal: the code is gone with the record. */
    const rmCodeUnknown: number[] = [];
    let finished = 0;
    let done = false;

    const killer = (async () => {
      let nextAt = KILL_EVERY;
      while (!done) {
        if (finished < nextAt) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        nextAt += KILL_EVERY;
        const name = SERVICES[Math.floor(Math.random() * SERVICES.length)]!;
        const pid = readDaemonRecord(s.paths)!.processes.find((p) => p.name === name)!.pid;
        process.kill(pid, 'SIGKILL');
        kills.push(name);
        // One at a time: the next kill comes once this one healed (the supervisor, not us).
        await until(`${name} restarted`, () => {
          const p = readDaemonRecord(s.paths)!.processes.find((x) => x.name === name)!.pid;
          return p !== pid && alive(p) ? true : undefined;
        }, 60_000);
        await waitServing([`unix:${socketPath(name, s.paths)}`], GRPC_SERVICE[name], 60_000);
      }
    })();

    const lifecycle = async (i: number): Promise<void> => {
      const name = `chaos-${s.tag}-${i}`;
      const lines = 3 + (i % 5);
      const code = i % 4 === 1 ? 0 : (i * 7) % 11;
      const autoRemove = i % 4 === 0;
      const script = `i=1; while [ $i -le ${lines} ]; do echo "${name} line $i"; i=$((i+1)); done; exit ${code}`;
      const create: engineV1.CreateContainerRequest = {
        name,
        config: { image: 'busybox:latest', cmd: { values: ['sh', '-c', script] } },
        hostConfig: { networkMode: i % 2 ? 'none' : 'bridge', autoRemove },
        pull: 'never',
      };
      // A create cut by a kill is retried by name; a start that finds no
      // container (its create was rolled back meanwhile) creates it again.
      let id = '';
      for (let attempt = 0; ; attempt++) {
        id = await retry(`create ${name}`, async () => {
          try {
            return (await s.engine.CreateContainer(create, { timeoutMs: 90_000 })).id;
          } catch (e) {
            // A retried create whose first attempt went through (or is still going: the start waits for it).
            if (!isAlreadyExists(e)) throw e;
            return (await s.engine.InspectContainer({ id: name, size: false })).summary!.id;
          }
        }, stats);
        try {
          // Start unless an earlier attempt did (a start of an exited container would run it again).
          await retry(`start ${name}`, async () => {
            const st = (await s.engine.InspectContainer({ id, size: false })).summary!.state;
            if (st === 'created') await s.engine.StartContainer({ id }, { timeoutMs: 90_000 });
          }, stats);
          break;
        } catch (e) {
          if (!isNotFound((e as Error).cause) || attempt >= 3) throw e;
        }
      }
      if (autoRemove) {
        try {
          const got = await retry(`wait ${name} removed`, () => s.engine.WaitContainer({ id, condition: 'removed' }, { timeoutMs: 90_000 }), stats);
          if (got.exitCode !== code) failures.push(`${name} (${id}): exit ${got.exitCode}, expected ${code}`);
        } catch (e) {
          // NotFound on a retry: removed while the wait was cut (the record, and its code, went with it).
          if (!isNotFound((e as Error).cause)) throw e;
          rmCodeUnknown.push(i);
        }
        return;
      }
      const got = await retry(`wait ${name}`, () => s.engine.WaitContainer({ id, condition: 'not-running' }, { timeoutMs: 90_000 }), stats);
      if (got.exitCode !== code) failures.push(`${name} (${id}): exit ${got.exitCode}, expected ${code}`);
      const logged = await retry(`logs ${name}`, async () => {
        const out: string[] = [];
        for await (const m of s.engine.Logs({ id, follow: false, since: '', until: '', stdout: true, stderr: true }) as AsyncIterable<engineV1.LogEntry__Output>) out.push(m.line.toString());
        return out;
      }, stats);
      const want = Array.from({ length: lines }, (_, k) => `${name} line ${k + 1}`);
      if (JSON.stringify(logged) !== JSON.stringify(want)) failures.push(`${name} (${id}): log ${JSON.stringify(logged)}, expected ${lines} lines`);
      await retry(`rm ${name}`, async () => {
        try {
          await s.engine.RemoveContainer({ id, force: false, removeVolumes: true });
        } catch (e) {
          if (!isNotFound(e)) throw e; // an earlier attempt removed it
        }
      }, stats);
    };

    let next = 0;
    try {
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        while (next < LIFECYCLES) {
          const i = next++;
          await lifecycle(i);
          finished++;
        }
      }));
    } finally {
      done = true;
      await killer.catch(() => undefined);
    }
    process.stderr.write(`chaos: ${LIFECYCLES} lifecycles, ${kills.length} kills (${kills.join(' ')}), ${stats.retries} retried calls, ${rmCodeUnknown.length} --rm codes cut by a kill\n`);
    expect(failures).toEqual([]);
    expect(kills.length).toBeGreaterThanOrEqual(Math.floor(LIFECYCLES / KILL_EVERY) - 2);
    // A code is gone only when the engine itself died in the wait (the record went with the removal).
    expect(rmCodeUnknown.length).toBeLessThanOrEqual(kills.filter((k) => k === 'engine').length * PARALLEL);

    // The stack healed: every service SERVING, nothing of any lifecycle left.
    await Promise.all(SERVICES.map((n) => waitServing([`unix:${socketPath(n, s.paths)}`], GRPC_SERVICE[n], 60_000)));
    s.reconnect();
    const left = await retry('ps', () => s.engine.ListContainers({ all: true, filters: {}, limit: 0, size: false }), stats);
    expect(left.containers.map((c) => c.name)).toEqual([]);
    // Releases of exits handled while a service was down finish once it is back: wait for them, bounded.
    await until('no process left', async () => ((await s.namespaces.List({})).containers.length === 0 ? true : undefined), 60_000)
      .catch(() => undefined);
    expect((await s.namespaces.List({})).containers.map((c) => c.id)).toEqual([]);
    const snaps = (await s.layers.List({})).snapshots.filter((x: layersV1.SnapshotInfo__Output) => x.kind === 'SNAPSHOT_KIND_ACTIVE');
    expect(snaps.map((x) => x.key)).toEqual([]);
    expect((await s.networks.ListAttachments({ containerId: '' })).attachments).toEqual([]);
    expect(bridgePorts(s.bridge)).toEqual([]);
    expect(cgroupDirsUnder(s.cgroupParent)).toEqual([]);
    const base = join(s.paths.root, '..');
    expect(mountsUnder(base)).toEqual([]);
    const dirs = (p: string) => (existsSync(p) ? readdirSync(p) : []);
    expect(dirs(join(s.paths.root, 'engine', 'containers'))).toEqual([]);
    expect(dirs(join(s.paths.run, 'netns'))).toEqual([]);
    // A bound for a hung stack, not a speed check: 200 lifecycles take 2-4 min
    // on two CPUs at a load of 10-16, over 10 at a load of 20-30.
  }, 1_800_000);
});
