// The engine service's gRPC layer (berth.engine.v1.Engine): maps wire
// messages onto Engine and back through wire.ts, nothing else
// (docs/design/services.md, docs/design/engine.md "Wiring notes").
//
// Composition: the store is <stateDir('engine')>/engine.db; the ports are
// clients of the other five services (grpc-ports/). Engine events go to NATS
// as berth.engine.container.<action> with a berth.events.v1.ContainerEvent
// payload; the Events rpc reads them back from JetStream (NATS_URL, default
// nats://127.0.0.1:4222: the module context carries a publisher, not a URL).
//
// Start: the module serves at once; recovery (reconciling records with what
// the namespaces service's monitors kept, then the cgroups and networks
// services' Reconcile with the containers that exist) runs in the background
// and is retried while a dependency is unavailable, so the engine does not
// fail to start because another service is restarting too.
//
// Exec and Attach stream stdio through the namespaces service's Attach.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arch, platform } from 'node:os';
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, FailedPreconditionError, InvalidArgumentError, makeError } from '@berth/errors';
import { ALL_SUBJECTS, natsFromEnv, natsSubjectOf, subjects, subscribeEvents, type ContainerAction as NatsContainerAction } from '@berth/events';
import { createClient, send, stateDir, type AsyncHandlers, type ServiceContext, type ServiceModule } from '@berth/kit';
import type { engineV1, eventsV1, namespacesV1 } from '@berth/proto';
import { ContainerStore } from './container-store';
import type { PathStat } from './copy';
import { runStepHistogram } from './metrics';
import { openEngineDb, SCHEMA_VERSION } from './db';
import { Engine } from './engine';
import { FAILPOINTS_ENV, FAILPOINT_LABEL, parseFailpoints } from './failpoints';
import { validateEventFilters, eventMatches } from './event-filter';
import { statsIntervalFromWire, stopTimeoutFromWire, validateContainerPath } from './validate';
import { UntilEnd } from './events-until';
import type { ContainerAction, ContainerEvent } from './events';
import { createGrpcPorts, grpcProbeRunner, type GrpcPorts } from './grpc-ports';
import { HealthMonitor } from './health';
import { resourceWarnings } from './resources';
import type { ContainerRecord, HostConfig } from './types';
import { builderHandlers } from './build/service';
import { grpcBuildImagesPort } from './build/images-port';
import { recoverInBackground } from './recovery-loop';
import { containerSizes, pruneReclaiming } from './queries/disk-usage';
import { grpcDiskUsage } from './grpc-ports/disk-usage';
import { toSummary } from './summary';
import { PublishingVolumeStore, volumeMountEvents } from './volume-events';
import { containerChanges } from './changes';
import { exportRoot } from './export';
import { peerEventFromCloudEvent, peerEventMatches, wantsContainerEvents, wantsPeerEvents } from './peer-events';
import {
  createRequestFromWire, eventToWire, execRequestFromWire, filtersFromWire, inspectToWire, logEntryToWire, logsRequestFromWire, parseUnixTimestamp,
  statsToWire, updateRequestFromWire, volumeToWire,
} from './wire';

type Handlers = AsyncHandlers<engineV1.EngineHandlers>;

const DEPENDENCIES = ['images', 'layers', 'cgroups', 'namespaces', 'networks'] as const;

function engineVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Engine event -> berth.events.v1.ContainerEvent (the NATS payload). */

/** BERTH_ENGINE_PEER_RETRY_MS: a positive number of ms, else the engine's default (a minute). */
function peerRetryMs(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`BERTH_ENGINE_PEER_RETRY_MS: "${v}" is not a positive number of milliseconds`);
  return n;
}
export function containerEventPayload(ev: ContainerEvent): eventsV1.ContainerEvent {
  const attributes: Record<string, string> = {};
  if (ev.oldName) attributes.old_name = ev.oldName;
  if (ev.execId) attributes.exec_id = ev.execId;
  if (ev.imageId) attributes.image_id = ev.imageId;
  if (ev.healthStatus) attributes.health_status = ev.healthStatus;
  attributes.time_unix_ms = String(ev.time);
  return {
    id: ev.id, name: ev.name, image: ev.image, action: ev.action, signal: ev.signal ?? '', labels: { ...ev.labels }, attributes,
    ...(ev.exitCode !== undefined ? { exitCode: ev.exitCode } : {}),
  };
}

/** The inverse, for events read back from JetStream. */
export function containerEventFromPayload(p: eventsV1.ContainerEvent, fallbackTime: number): ContainerEvent {
  const a = p.attributes ?? {};
  return {
    id: p.id ?? '', name: p.name ?? '', image: p.image ?? '', action: (p.action ?? '') as ContainerAction,
    time: a.time_unix_ms ? Number(a.time_unix_ms) : fallbackTime, labels: { ...(p.labels ?? {}) },
    ...(p.exitCode !== undefined && p.exitCode !== null ? { exitCode: p.exitCode } : {}),
    ...(p.signal ? { signal: p.signal } : {}),
    ...(a.old_name ? { oldName: a.old_name } : {}),
    ...(a.exec_id ? { execId: a.exec_id } : {}),
    ...(a.image_id ? { imageId: a.image_id } : {}),
    ...(a.health_status ? { healthStatus: a.health_status } : {}),
  };
}

/** The NATS action name: the engine's "commit" is the subject's "committed". */
const natsAction = (a: ContainerAction): NatsContainerAction => (a === 'commit' ? 'committed' : a) as NatsContainerAction;

async function healthOf(ctx: ServiceContext): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  await Promise.all(DEPENDENCIES.map(async (s) => {
    const c = createClient<Record<string, never>, Record<string, never>>('grpc.health.v1.Health', ctx.addressesOf(s), { timeoutMs: 1000, maxAttempts: 1 });
    try {
      const r = await (c as unknown as { Check(r: unknown): Promise<{ status: string }> }).Check({ service: '' });
      out[s] = r.status === 'SERVING';
    } catch {
      out[s] = false;
    } finally {
      c.close();
    }
  }));
  return out;
}

/** Namespaces Attach for a process; client messages of `call` are forwarded to it. */
function bridgeStdio(
  ns: GrpcPorts['clients']['namespaces'],
  target: namespacesV1.AttachTarget,
  call: grpc.ServerDuplexStream<engineV1.AttachRequest__Output | engineV1.ExecRequest__Output, unknown>,
  signal: AbortSignal,
  onOutput: (o: namespacesV1.AttachOutput__Output) => void,
): Promise<void> {
  const up = ns.Attach({ signal });
  up.write({ target });
  // Client -> process: stdin, resizes, close_stdin. Ending our side detaches.
  void (async () => {
    try {
      for await (const m of call as AsyncIterable<engineV1.AttachRequest__Output>) {
        if (m.stdin !== undefined && m.msg === 'stdin') up.write({ stdin: m.stdin });
        else if (m.resize && m.msg === 'resize') up.write({ resize: { width: m.resize.width, height: m.resize.height } });
        else if (m.msg === 'closeStdin') up.write({ closeStdin: true });
      }
    } catch { /* client went away: the upstream is cancelled by the signal */ }
    up.end();
  })();
  return new Promise<void>((resolve, reject) => {
    up.on('data', onOutput);
    up.on('end', () => resolve());
    up.on('error', (e: Error) => (signal.aborted ? resolve() : reject(e)));
  });
}

export const engineModule: ServiceModule = {
  name: 'engine',
  grpcService: 'berth.engine.v1.Engine',
  async start(ctx) {
    // Checked first: a misspelt step fails the start before anything is opened.
    const failpoints = parseFailpoints(process.env[FAILPOINTS_ENV]);
    if (failpoints.size) ctx.log.warn({ failpoints: [...failpoints] }, `fault injection armed (${FAILPOINTS_ENV}): containers labelled ${FAILPOINT_LABEL}=<step> fail there`);
    const dir = stateDir('engine', ctx.paths);
    const db = openEngineDb(join(dir, 'engine.db'));
    const warn = (msg: string) => ctx.log.warn(msg);
    const g = createGrpcPorts(ctx, dir, warn);
    const runSteps = runStepHistogram(ctx.registry);
    const engine = new Engine({
      store: new ContainerStore(db), volumes: new PublishingVolumeStore(db, dir, (action, v) => {
        ctx.events.publish(subjects.engineVolume(action), { name: v.name, driver: v.driver, action, labels: { ...v.labels } }, v.name);
      }), ports: g.ports, stateDir: dir, stateRoot: ctx.paths.root, warn,
      onStepTimed: (step, seconds) => runSteps.observe({ step }, seconds),
      failpoints,
      unavailableRetryMs: peerRetryMs(process.env.BERTH_ENGINE_PEER_RETRY_MS),
    });
    engine.events.on('event', (ev: ContainerEvent) => {
      ctx.events.publish(subjects.engineContainer(natsAction(ev.action)), containerEventPayload(ev), ev.id);
      if (ev.action !== 'started' && ev.action !== 'die') return;
      let rec: ContainerRecord;
      try { rec = engine.store.get(ev.id); } catch { return; } // removed meanwhile: nothing to announce
      for (const v of volumeMountEvents(ev, rec)) ctx.events.publish(subjects.engineVolume(v.action), v, v.name);
    });
    // Healthchecks follow the engine's events; after recovery, running containers' probes resume (health.ts).
    const health = new HealthMonitor({
      store: engine.store, events: engine.events, warn,
      probe: grpcProbeRunner((id, r) => engine.exec(id, r), g.clients.namespaces),
    });
    let closed = false;
    const recovery = recoverInBackground(engine, {
      reconcilePeers: async (existingIds, asOfMs) => {
        await g.clients.cgroups.Reconcile({ existingIds, asOfMs });
        await g.clients.networks.Reconcile({ existingContainerIds: existingIds, asOfMs });
      },
      stopped: () => closed, log: ctx.log,
    });
    void recovery.then(() => health.resume());
    // NATS_URL and its credentials, else berth's own server with its token (@berth/events connection.ts).
    const nats = natsFromEnv(process.env, ctx.paths.root);
    const version = engineVersion();

    /** docker ps --size and prune's reclaimed space, from the layers and images services (queries/disk-usage.ts). */
    const diskUsage = grpcDiskUsage(g.clients);

    const handlers: Handlers = {
      CreateContainer: async (req) => {
        const r = createRequestFromWire(req);
        const rec = await engine.create(r);
        return { id: rec.id, name: rec.name, warnings: warningsOf(r.hostConfig) };
      },
      StartContainer: async (req) => ({ container: toSummary(await engine.start(req.id)) }),
      RunContainer: async (req) => {
        if (!req.create) throw new InvalidArgumentError('create is required', { field: 'create' });
        const r = createRequestFromWire(req.create);
        const rec = await engine.run(r);
        return { id: rec.id, name: rec.name, warnings: warningsOf(r.hostConfig) };
      },
      StopContainer: async (req) => ({ container: toSummary(await engine.stop(req.id, stopTimeoutFromWire(req.timeoutSeconds), req.signal || undefined)) }),
      KillContainer: async (req) => {
        await engine.kill(req.id, req.signal || 'SIGKILL');
        return {};
      },
      RestartContainer: async (req) => ({ container: toSummary(await engine.restart(req.id, stopTimeoutFromWire(req.timeoutSeconds))) }),
      RemoveContainer: async (req) => {
        await engine.remove(req.id, { force: req.force, volumes: req.removeVolumes });
        return {};
      },
      ListContainers: async (req) => {
        const list = engine.list({ all: req.all, filters: filtersFromWire(req.filters), limit: req.limit });
        const sizes = req.size ? await containerSizes(list, diskUsage) : [];
        return { containers: list.map((c, i) => toSummary(c, sizes[i])) };
      },
      InspectContainer: async (req) => inspectToWire(engine.inspectRecord(req.id)),
      WaitContainer: async (req, c) => {
        const cond = req.condition || 'not-running';
        if (cond !== 'not-running' && cond !== 'next-exit' && cond !== 'removed') {
          throw new InvalidArgumentError(`condition "${cond}": expected not-running, next-exit or removed`, { field: 'condition' });
        }
        return { exitCode: await engine.wait(req.id, cond, c.signal), error: '' };
      },
      Logs: async (req, call, c) => {
        for await (const e of engine.logs(req.id, { ...logsRequestFromWire(req), signal: c.signal })) {
          if (!(await send(call, logEntryToWire(e), c.signal))) break;
        }
      },
      ReopenContainerLog: async (req) => {
        await engine.reopenLog(req.id);
        return {};
      },
      Exec: async (call, c) => {
        const first = await nextMessage<engineV1.ExecRequest__Output>(call);
        if (!first?.start) throw new InvalidArgumentError('the first Exec message must be start', { field: 'start' });
        const s = first.start;
        const { execId, exitCode } = await engine.exec(s.id, execRequestFromWire(s));
        call.write({ started: execId });
        if (!s.detach) {
          const rec = engine.inspectRecord(s.id);
          await bridgeStdio(g.clients.namespaces, { id: rec.id, execId, logs: false }, call, c.signal, (o) => {
            if (o.stdout) call.write({ output: { stream: 'stdout', data: o.stdout } });
            else if (o.stderr) call.write({ output: { stream: 'stderr', data: o.stderr } });
          });
        }
        call.write({ exitCode: await exitCode });
      },
      Attach: async (call, c) => {
        const first = await nextMessage<engineV1.AttachRequest__Output>(call);
        if (!first?.start) throw new InvalidArgumentError('the first Attach message must be start', { field: 'start' });
        const s = first.start;
        const rec = engine.inspectRecord(s.id);
        const all = !s.stdout && !s.stderr;
        // The exit handling must not delete the process state under this stream (runtime-holds.ts).
        const release = engine.holdRuntime(rec.id);
        if (!release) {
          throw new FailedPreconditionError(`container ${rec.name} has exited: read its output with logs and its exit code with wait`, { field: 'id' });
        }
        try {
          await bridgeStdio(g.clients.namespaces, { id: rec.id, execId: '', logs: s.logs }, call, c.signal, (o) => {
            if (o.stdout && (all || s.stdout)) call.write({ output: { stream: 'stdout', data: o.stdout } });
            else if (o.stderr && (all || s.stderr)) call.write({ output: { stream: 'stderr', data: o.stderr } });
            else if (o.exit) call.write({ exitCode: o.exit.exitCode });
          });
        } finally {
          release();
        }
      },
      RunAttached: async (call, c) => {
        const first = await nextMessage<engineV1.RunAttachedRequest__Output>(call);
        if (!first?.start?.create) throw new InvalidArgumentError('the first RunAttached message must be start, with create', { field: 'start.create' });
        const r = createRequestFromWire(first.start.create);
        const rec = await engine.create(r);
        call.write({ created: { id: rec.id, name: rec.name, warnings: warningsOf(r.hostConfig) } });
        // Listening before the start: the exit cannot come first.
        const ended = engine.runEnd(rec.id, c.signal);
        ended.catch(() => undefined);
        // The exit handling must not delete the process state under the stream (runtime-holds.ts).
        const release = engine.holdRuntime(rec.id);
        let streaming: Promise<void> = Promise.resolve();
        try {
          await engine.start(rec.id, {
            // The process exists, paused before exec. With logs the namespaces
            // service registers with the monitor first and then replays what
            // came before that: should the registration land after the exec,
            // nothing is lost or repeated all the same.
            beforeStart: async (id) => {
              streaming = bridgeStdio(g.clients.namespaces, { id, execId: '', logs: true }, call, c.signal, (o) => {
                if (o.stdout) call.write({ output: { stream: 'stdout', data: o.stdout } });
                else if (o.stderr) call.write({ output: { stream: 'stderr', data: o.stderr } });
              });
              streaming.catch(() => undefined);
            },
          });
        } catch (e) {
          release?.();
          if (r.hostConfig.autoRemove) await engine.remove(rec.id, { force: true, volumes: true }).catch(() => undefined);
          throw e;
        }
        try {
          // A stream broken under us (the namespaces service restarted) fails
          // the call rather than ending it short: the container runs on, and
          // its log and exit code stay readable with Logs and WaitContainer.
          await streaming;
        } finally {
          release?.();
        }
        let end: { exitCode: number; oomKilled: boolean; removed: boolean };
        try {
          end = await ended;
        } catch (e) {
          if (c.signal.aborted) return; // detached: the container runs on (and --rm removes it at its exit)
          throw e;
        }
        call.write({ exit: end });
      },
      PauseContainer: async (req) => {
        await engine.pause(req.id);
        return {};
      },
      UnpauseContainer: async (req) => {
        await engine.unpause(req.id);
        return {};
      },
      UpdateContainer: async (req) => ({ container: toSummary(await engine.update(req.id, updateRequestFromWire(req))), warnings: [] }),
      Stats: async (req, call, c) => {
        const opts = { all: req.all, stream: req.stream, intervalMs: statsIntervalFromWire(req.intervalMs), signal: c.signal };
        for await (const s of engine.stats(req.ids, opts)) call.write(statsToWire(s, Date.now()));
      },
      Top: async (req) => {
        const t = await engine.top(req.id, req.psArgs);
        return { titles: t.titles, processes: t.processes.map((fields) => ({ fields })) };
      },
      Commit: async (req) => ({
        imageId: await engine.commit(req.id, { repository: req.repository, tag: req.tag, author: req.author, message: req.message, changes: req.changes, pause: req.pause }),
      }),
      Rename: async (req) => {
        engine.rename(req.id, req.newName);
        return {};
      },
      Changes: async (req, c) => {
        const rec = engine.inspectRecord(req.id);
        const changes = await containerChanges(g.clients.layers, rec.id, c.signal);
        const kind = { added: 'CHANGE_KIND_ADDED', modified: 'CHANGE_KIND_MODIFIED', deleted: 'CHANGE_KIND_DELETED' } as const;
        return { changes: changes.map((x) => ({ path: x.path, kind: kind[x.kind] })) };
      },
      Export: async (req, call, c) => {
        const rec = await engine.exportRecord(req.id);
        for await (const data of exportRoot(rec)) {
          if (!(await send(call, { data }, c.signal))) break;
        }
      },
      StatPath: async (req) => {
        const path = validateContainerPath('path', req.path);
        return pathStatToWire(await engine.statPath(req.id, path));
      },
      CopyFrom: async (req, call, c) => {
        validateContainerPath('path', req.path);
        await engine.copyFrom(req.id, req.path, async (stat, tar) => {
          call.write({ stat: pathStatToWire(stat) });
          for await (const data of tar) {
            if (!(await send(call, { data }, c.signal))) break;
          }
        });
      },
      CopyTo: async (call, c) => {
        const first = await nextMessage<engineV1.CopyToRequest__Output>(call);
        if (!first?.start) throw new InvalidArgumentError('the first CopyTo message must be start (id, path)', { field: 'start' });
        const s = first.start;
        validateContainerPath('start.path', s.path);
        // A cancelled call need not end its message stream: fail the extraction then (it removes what it made).
        const it = (call as AsyncIterable<engineV1.CopyToRequest__Output>)[Symbol.asyncIterator]();
        const cancelled = new Promise<never>((_, reject) => {
          const fail = () => reject(makeError(ErrorCode.Cancelled, `copy into ${s.id}:${s.path} cancelled by the client`));
          if (c.signal.aborted) fail(); else c.signal.addEventListener('abort', fail, { once: true });
        });
        cancelled.catch(() => undefined);
        const data = (async function* () {
          for (;;) {
            const m = await Promise.race([it.next(), cancelled]);
            if (m.done) return;
            if (m.value.data) yield m.value.data;
          }
        })();
        const r = await engine.copyTo(s.id, s.path, data, { copyUidGid: s.copyUidGid, allowOverwriteDirWithFile: s.allowOverwriteDirWithFile });
        return { entries: r.entries, bytes: r.bytes };
      },
      Prune: async (req) => pruneReclaiming(engine, filtersFromWire(req.filters), diskUsage),
      ConnectNetwork: async (req) => {
        const r = await engine.connectNetwork(req.container, req.network, { aliases: req.aliases, ip: req.ip, links: req.links });
        const e = r.endpoint;
        return {
          endpoint: {
            network: r.network, networkId: e.networkId, ipAddress: e.ipAddress, ipPrefixLen: e.ipPrefixLen, gateway: e.gateway,
            macAddress: e.macAddress, aliases: e.aliases, ipamIpv4Address: e.ipamIpv4Address ?? '', links: e.links ?? [],
          },
        };
      },
      DisconnectNetwork: async (req) => {
        await engine.disconnectNetwork(req.container, req.network, { force: req.force });
        return {};
      },
      CreateVolume: async (req) => {
        if (req.driver && req.driver !== 'local') throw new InvalidArgumentError(`volume driver "${req.driver}" is not supported: only "local"`, { field: 'driver' });
        const v = engine.volumes.create({ ...(req.name ? { name: req.name } : {}), labels: { ...req.labels }, options: { ...req.options } });
        return volumeToWire(v, engine.volumes.usedBy(v.name)) as engineV1.Volume;
      },
      ListVolumes: async (req) => ({
        volumes: engine.volumes.list(filtersFromWire(req.filters)).map((v) => volumeToWire(v, engine.volumes.usedBy(v.name)) as engineV1.Volume),
      }),
      InspectVolume: async (req) => {
        const v = engine.volumes.inspect(req.name);
        return volumeToWire(v, engine.volumes.usedBy(v.name)) as engineV1.Volume;
      },
      RemoveVolume: async (req) => {
        engine.volumes.remove(req.name, { force: req.force });
        return {};
      },
      PruneVolumes: async (req) => engine.volumes.prune({ all: req.all, filters: filtersFromWire(req.filters) }),
      Events: async (req, call, c) => {
        const filters = filtersFromWire(req.filters);
        validateEventFilters(filters);
        const withContainers = wantsContainerEvents(filters);
        const since = req.since ? new Date(Number(parseUnixTimestamp(req.since, 'since') / 1_000_000n)) : undefined;
        const until = req.until ? new Date(Number(parseUnixTimestamp(req.until, 'until') / 1_000_000n)) : undefined;
        const ac = new AbortController();
        const onAbort = () => ac.abort();
        c.signal.addEventListener('abort', onAbort, { once: true });
        // JetStream ends the stream only when a later event arrives: end it once `until` passed and the replay caught up.
        const untilEnd = until ? new UntilEnd(until, onAbort) : undefined;
        try {
          const stream = subscribeEvents({
            servers: nats.servers, auth: nats.auth, filter: wantsPeerEvents(filters) ? ALL_SUBJECTS : 'berth.engine.container.>', signal: ac.signal,
            ...(since ? { since } : {}), ...(until ? { until } : {}),
          });
          for await (const ce of stream) {
            if (natsSubjectOf(ce).startsWith('berth.engine.container.')) {
              const ev = containerEventFromPayload(ce.data as eventsV1.ContainerEvent, Date.parse(ce.time));
              if (withContainers && eventMatches(ev, filters)) call.write(eventToWire(ev));
            } else {
              const ev = peerEventFromCloudEvent(ce);
              if (ev && peerEventMatches(ev, filters)) call.write(ev);
            }
            untilEnd?.delivered(ce.pending);
          }
        } catch (e) {
          if (!ac.signal.aborted) throw e;
        } finally {
          untilEnd?.close();
          c.signal.removeEventListener('abort', onAbort);
        }
      },
      Info: async () => {
        const i = engine.info();
        return {
          containers: i.total, containersRunning: i.running, containersPaused: i.paused, containersStopped: i.stopped, volumes: i.volumes,
          stateDir: dir, schemaVersion: SCHEMA_VERSION, serverVersion: version, servicesHealthy: await healthOf(ctx),
        };
      },
      Version: async () => ({
        version, apiVersion: 'berth.engine.v1', gitCommit: process.env['BERTH_GIT_COMMIT'] ?? '', nodeVersion: process.version, os: platform(), arch: arch(),
      }),
    };

    return {
      handlers,
      // docker build, on the engine's socket (protos/berth/engine/v1/build.proto).
      services: {
        'berth.engine.v1.Builder': builderHandlers({ engine, images: grpcBuildImagesPort(g.clients.images, g.clients.transfer), layers: g.ports.layers, stateDir: dir }),
      },
      close: async () => {
        closed = true;
        health.close();
        engine.close();
        await Promise.race([recovery, new Promise((r) => setTimeout(r, 1000).unref())]);
        await g.close();
        db.close();
      },
    };
  },
};

function pathStatToWire(p: PathStat): engineV1.PathStat {
  return { name: p.name, size: p.size, mode: p.mode, mtimeUnixMs: p.mtimeMs, linkTarget: p.linkTarget };
}

function warningsOf(h: HostConfig): string[] {
  return [
    ...(h.networkMode === 'host' && h.portBindings.length > 0 ? ['Published ports are discarded when using host network mode'] : []),
    ...resourceWarnings(h),
  ];
}

/** The first message of a bidi call (null when the client closed without one). */
async function nextMessage<T>(call: NodeJS.ReadableStream): Promise<T | null> {
  return new Promise((resolve, reject) => {
    const onData = (m: T) => { cleanup(); call.pause(); resolve(m); };
    const onEnd = () => { cleanup(); resolve(null); };
    const onError = (e: Error) => { cleanup(); reject(e); };
    const cleanup = () => { call.off('data', onData); call.off('end', onEnd); call.off('error', onError); };
    call.on('data', onData);
    call.once('end', onEnd);
    call.once('error', onError);
  });
}
