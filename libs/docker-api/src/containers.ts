// /containers/*: Docker's container endpoints onto berth.engine.v1.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DataLossError, InvalidArgumentError } from '@berth/errors';
import { statusString, type StatusFacts } from '@berth/cli-kit';
import type { engineV1 } from '@berth/proto';
import { LONG_CALL, type Backends } from './backends';
import type { Lifecycle } from './attach';
import { AUTO_REMOVE_LABEL, decodeCreate } from './create';
import {
  DockerHttpError, boolParam, filtersParam, intParam, notImplemented, readJson, sendEmpty, sendJson, sendTarStream, type Req, type Router,
} from './http';
import { hijack, responseConn, type StreamConn } from './streams';
import { dockerStats, hostCpuNs } from './stats';

export interface ContainerDeps {
  b: Backends;
  life: Lifecycle;
}

const toFilters = (f: Record<string, string[]>): Record<string, engineV1.FilterValues> =>
  Object.fromEntries(Object.entries(f).map(([k, values]) => [k, { values }]));

const hideLabels = (labels: Record<string, string>): Record<string, string> => {
  const { [AUTO_REMOVE_LABEL]: _auto, ...rest } = labels;
  return rest;
};

const CHANGE_KIND: Record<string, number> = { CHANGE_KIND_MODIFIED: 0, CHANGE_KIND_ADDED: 1, CHANGE_KIND_DELETED: 2 };

/** A ContainerSummary as GET /containers/json shows it (moby api/types Container). */
export function listEntry(c: engineV1.ContainerSummary__Output, nowMs: number, networkMode: string): Record<string, unknown> {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: c.imageDigest,
    Command: c.command,
    Created: Math.floor(Number(c.createdAtUnixMs) / 1000),
    // Published ports with their host address (0.0.0.0 when bound to all), exposed-only ones without.
    Ports: c.ports.map((p) => (p.hostPort
      ? { IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol || 'tcp' }
      : { PrivatePort: p.containerPort, Type: p.protocol || 'tcp' })),
    Labels: hideLabels(c.labels),
    State: c.state,
    Status: statusString({
      state: c.state as StatusFacts['state'], exitCode: c.exitCode,
      startedAt: Number(c.startedAtUnixMs), finishedAt: Number(c.finishedAtUnixMs), health: c.health,
    }, nowMs),
    HostConfig: { NetworkMode: networkMode },
    NetworkSettings: { Networks: Object.fromEntries(c.networks.map((n) => [n, { NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' }])) },
    Mounts: c.mounts.map((m) => (m.startsWith('/') ? { Type: 'bind', Source: m } : { Type: 'volume', Name: m, Source: '' })),
    ...(Number(c.sizeRw) >= 0 ? { SizeRw: Number(c.sizeRw), SizeRootFs: Number(c.sizeRootFs) } : {}),
  };
}

/** The engine's Docker-shaped inspect document, with the gateway's AutoRemove label shown as HostConfig.AutoRemove. */
export async function inspectDoc(b: Backends, id: string, size = false): Promise<{ doc: Record<string, unknown>; summary: engineV1.ContainerSummary__Output }> {
  const r = await b.engine.InspectContainer({ id, size });
  const doc = JSON.parse(r.json) as Record<string, unknown>;
  const config = doc['Config'] as { Labels?: Record<string, string> } | undefined;
  if (config?.Labels && AUTO_REMOVE_LABEL in config.Labels) {
    config.Labels = hideLabels(config.Labels);
    (doc['HostConfig'] as Record<string, unknown>)['AutoRemove'] = true;
  }
  // API 1.41 lists the short id among a container's aliases on user-defined networks (1.45 moved it to
  // DNSNames); compose v1 reconnects a container whose aliases lack it.
  const id12 = String(doc['Id'] ?? '').slice(0, 12);
  const nets = (doc['NetworkSettings'] as { Networks?: Record<string, { Aliases?: string[] | null }> } | undefined)?.Networks ?? {};
  for (const [name, ep] of Object.entries(nets)) {
    if (name === 'bridge' || name === 'host' || name === 'none' || !id12) continue;
    ep.Aliases = [...new Set([...(ep.Aliases ?? []), id12])];
  }
  // berth's log (CRI format, rotated) is what Docker calls json-file: readable through the API. Clients
  // (docker-py's run) read logs only for the drivers they know.
  const log = (doc['HostConfig'] as { LogConfig?: { Type?: string } } | undefined)?.LogConfig;
  if (log && (log.Type === 'k8s-file' || !log.Type)) log.Type = 'json-file';
  // A port published on every address shows Docker's 0.0.0.0 (clients look the host port up there).
  const ports = (doc['NetworkSettings'] as { Ports?: Record<string, { HostIp: string }[] | null> } | undefined)?.Ports ?? {};
  for (const list of Object.values(ports)) for (const p of list ?? []) if (p.HostIp === '') p.HostIp = '0.0.0.0';
  return { doc, summary: r.summary! };
}

/** Go's os.FileMode bits for a st_mode (what X-Docker-Container-Path-Stat carries). */
export function goFileMode(mode: number): number {
  const fmt = mode & 0o170000;
  // Bit 31 (ModeDir) does not fit JavaScript's signed 32-bit bitwise operators: add, do not OR.
  let m = mode & 0o777;
  if (mode & 0o4000) m += 1 << 23;
  if (mode & 0o2000) m += 1 << 22;
  if (mode & 0o1000) m += 1 << 20;
  if (fmt === 0o040000) m += 2 ** 31;
  else if (fmt === 0o120000) m += 1 << 27;
  else if (fmt === 0o010000) m += 1 << 25;
  else if (fmt === 0o140000) m += 1 << 24;
  else if (fmt === 0o020000) m += (1 << 26) + (1 << 21);
  else if (fmt === 0o060000) m += 1 << 26;
  return m;
}

function pathStatHeader(s: engineV1.PathStat__Output): string {
  return Buffer.from(JSON.stringify({
    name: s.name, size: Number(s.size), mode: goFileMode(s.mode), mtime: new Date(Number(s.mtimeUnixMs)).toISOString(), linkTarget: s.linkTarget,
  })).toString('base64');
}

/** Docker's since/until: unix seconds (with an optional fraction) or RFC 3339. */
export function timestampParam(v: string | null): string {
  if (!v) return '';
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`invalid timestamp "${v}": expected unix seconds or RFC 3339`, { field: 'since' });
  return (ms / 1000).toFixed(3);
}

export function registerContainers(router: Router, d: ContainerDeps): void {
  const { b, life } = d;
  const C = '/containers/(?<id>[^/]+)';

  router.add('GET', '/containers/json', async (req, res) => {
    const q = req.query;
    const filters = filtersParam(q);
    const limit = intParam(q, 'limit') ?? 0;
    const { containers } = await b.engine.ListContainers({ all: boolParam(q, 'all'), filters: toFilters(filters), limit: limit > 0 ? limit : 0, size: boolParam(q, 'size') });
    const now = Date.now();
    sendJson(res, 200, containers.map((c) => listEntry(c, now, c.networks[0] ?? 'default')));
  });

  router.add('POST', '/containers/create', async (req, res) => {
    const body = await readJson(req.raw);
    const dec = decodeCreate(body, req.query.get('name') ?? '');
    const created = await b.engine.CreateContainer(dec.request);
    try {
      // Aliases on the container's own network and further networks: network connect's rules, before the first start.
      const own = dec.request.hostConfig?.networkMode ?? '';
      if (dec.aliases.length && !['bridge', 'default', 'none', 'host'].includes(own) && !own.startsWith('container:')) {
        await b.engine.ConnectNetwork({ container: created.id, network: own, aliases: dec.aliases, ip: '', links: [] });
      }
      for (const n of dec.extraNetworks) await b.engine.ConnectNetwork({ container: created.id, network: n.network, aliases: n.aliases, ip: n.ip, links: [] });
    } catch (e) {
      await b.engine.RemoveContainer({ id: created.id, force: true, removeVolumes: true }).catch(() => undefined);
      throw e;
    }
    sendJson(res, 201, { Id: created.id, Warnings: created.warnings });
  });

  router.add('GET', `${C}/json`, async (req, res) => {
    sendJson(res, 200, (await inspectDoc(b, req.params['id']!, boolParam(req.query, 'size'))).doc);
  });

  router.add('POST', `${C}/start`, async (req, res) => {
    const r = await b.engine.StartContainer({ id: req.params['id']! });
    const c = r.container!;
    life.started(c.id);
    if (AUTO_REMOVE_LABEL in c.labels) life.watchAutoRemove(c.id);
    sendEmpty(res, 204);
  });

  const timeoutOf = (q: URLSearchParams): { timeoutSeconds?: number } => {
    const t = intParam(q, 't') ?? intParam(q, 'timeout');
    return t === undefined ? {} : { timeoutSeconds: t };
  };
  router.add('POST', `${C}/stop`, async (req, res) => {
    await b.engine.StopContainer({ id: req.params['id']!, ...timeoutOf(req.query), signal: req.query.get('signal') ?? '' }, LONG_CALL);
    sendEmpty(res);
  });
  router.add('POST', `${C}/restart`, async (req, res) => {
    const r = await b.engine.RestartContainer({ id: req.params['id']!, ...timeoutOf(req.query) }, LONG_CALL);
    if (r.container) life.started(r.container.id);
    sendEmpty(res);
  });
  router.add('POST', `${C}/kill`, async (req, res) => {
    await b.engine.KillContainer({ id: req.params['id']!, signal: req.query.get('signal') ?? '' });
    sendEmpty(res);
  });
  router.add('POST', `${C}/pause`, async (req, res) => {
    await b.engine.PauseContainer({ id: req.params['id']! });
    sendEmpty(res);
  });
  router.add('POST', `${C}/unpause`, async (req, res) => {
    await b.engine.UnpauseContainer({ id: req.params['id']! });
    sendEmpty(res);
  });
  router.add('DELETE', C, async (req, res) => {
    if (boolParam(req.query, 'link')) throw notImplemented('removing a legacy link (link=true)');
    await b.engine.RemoveContainer({ id: req.params['id']!, force: boolParam(req.query, 'force'), removeVolumes: boolParam(req.query, 'v') }, LONG_CALL);
    sendEmpty(res);
  });
  router.add('POST', `${C}/rename`, async (req, res) => {
    const name = req.query.get('name') ?? '';
    if (!name) throw new InvalidArgumentError('rename needs ?name=<new name>', { field: 'name' });
    await b.engine.Rename({ id: req.params['id']!, newName: name });
    sendEmpty(res);
  });

  router.add('POST', `${C}/wait`, async (req, res) => {
    const id = req.params['id']!;
    const condition = req.query.get('condition') || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new InvalidArgumentError(`invalid condition "${condition}": expected not-running, next-exit or removed`, { field: 'condition' });
    }
    // 404 before the headers go out.
    const { summary } = await inspectDoc(b, id);
    // Headers at once: a client waits for them before it starts the container.
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const opts = { ...LONG_CALL, signal: ac.signal };
    let body: { StatusCode: number; Error: { Message: string } | null };
    try {
      // The exit code comes from the exit, so it survives AutoRemove; "removed" then waits for the removal too.
      const first = condition === 'removed' ? (summary.state === 'created' ? 'next-exit' : 'not-running') : condition;
      const r = await b.engine.WaitContainer({ id: summary.id, condition: first }, opts);
      if (condition === 'removed') {
        await b.engine.WaitContainer({ id: summary.id, condition: 'removed' }, opts).catch((e: unknown) => {
          if (!(e instanceof Error && /not found|no such/i.test(e.message))) throw e;
        });
      }
      body = { StatusCode: r.exitCode, Error: r.error ? { Message: r.error } : null };
    } catch (e) {
      if (ac.signal.aborted) return;
      body = { StatusCode: -1, Error: { Message: (e as Error).message } };
    }
    res.end(JSON.stringify(body) + '\n');
  });

  router.add('GET', `${C}/logs`, async (req, res) => {
    const q = req.query;
    const { summary, doc } = await inspectDoc(b, req.params['id']!);
    const tty = (doc['Config'] as { Tty?: boolean }).Tty === true;
    const tailRaw = q.get('tail') ?? 'all';
    const tail = tailRaw === 'all' || tailRaw === '' ? undefined : Number(tailRaw);
    if (tail !== undefined && !Number.isInteger(tail)) throw new InvalidArgumentError(`invalid tail "${tailRaw}": expected a number or "all"`, { field: 'tail' });
    const stdout = boolParam(q, 'stdout');
    const stderr = boolParam(q, 'stderr');
    if (!stdout && !stderr) throw new InvalidArgumentError('you must choose at least one stream (stdout=1 or stderr=1)', { field: 'stdout' });
    const ac = new AbortController();
    const call = b.engine.Logs({
      id: summary.id, follow: boolParam(q, 'follow'), ...(tail !== undefined && tail >= 0 ? { tail } : {}),
      since: timestampParam(q.get('since')), until: timestampParam(q.get('until')), stdout, stderr,
    }, { signal: ac.signal });
    const conn = responseConn(res, tty, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    conn.onClose(() => ac.abort());
    const timestamps = boolParam(q, 'timestamps');
    // A line longer than 16 KiB arrives in pieces (partial): one newline, one timestamp per line.
    const midLine = { stdout: false, stderr: false };
    try {
      for await (const m of call as AsyncIterable<engineV1.LogEntry__Output>) {
        const stream = m.stream === 'stderr' ? 'stderr' : 'stdout';
        const partial = (m as { partial?: boolean }).partial === true;
        const stamp = timestamps && !midLine[stream] ? Buffer.from(`${m.time} `) : Buffer.alloc(0);
        midLine[stream] = partial;
        conn.output(stream, Buffer.concat([stamp, m.line, Buffer.from(partial ? '' : '\n')]));
      }
    } catch (e) {
      if (!ac.signal.aborted) throw new DataLossError(`logs ended early: ${(e as Error).message}`);
    } finally {
      conn.end();
    }
  });

  router.add('GET', `${C}/top`, async (req, res) => {
    const psArgs = req.query.get('ps_args');
    const t = await b.engine.Top({ id: req.params['id']!, psArgs: psArgs ? psArgs.split(/\s+/).filter(Boolean) : [] });
    sendJson(res, 200, { Titles: t.titles, Processes: t.processes.map((p) => p.fields) });
  });

  router.add('GET', `${C}/stats`, async (req, res) => {
    const q = req.query;
    const stream = boolParam(q, 'stream', true);
    const { summary } = await inspectDoc(b, req.params['id']!);
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    // Not streaming (and one-shot): one sample, its precpu_stats derived from the engine's CPU percent
    // (stats.ts); `docker stats --no-stream` gives up after 2 s, so no second sample is awaited.
    const call = b.engine.Stats({ ids: [summary.id], all: true, stream, intervalMs: 1000 }, { signal: ac.signal });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    let prev: ReturnType<typeof dockerStats> | undefined;
    let samples = 0;
    try {
      for await (const m of call as AsyncIterable<engineV1.StatsResponse__Output>) {
        const s = m.stats[0];
        if (!s) continue;
        const cur = dockerStats(s, Number(m.timeUnixMs), hostCpuNs(), prev);
        samples++;
        res.write(JSON.stringify(cur) + '\n');
        if (!stream) break;
        prev = cur;
      }
    } catch (e) {
      if (!ac.signal.aborted && !samples) throw e;
    } finally {
      ac.abort();
      res.end();
    }
  });

  router.add('POST', `${C}/resize`, async (req, res) => {
    const id = (await inspectDoc(b, req.params['id']!)).summary.id;
    life.resize(id, intParam(req.query, 'w') ?? 0, intParam(req.query, 'h') ?? 0);
    sendEmpty(res, 200);
  });

  router.add('POST', `${C}/update`, async (req, res) => {
    const body = await readJson(req.raw);
    const n = (k: string): number | undefined => (typeof body[k] === 'number' ? (body[k] as number) : undefined);
    const upd: engineV1.UpdateContainerRequest = { id: req.params['id']! };
    if (n('Memory')) upd.memory = n('Memory')!;
    if (n('MemorySwap')) upd.memorySwap = n('MemorySwap')!;
    if (n('NanoCpus')) upd.nanoCpus = n('NanoCpus')!;
    if (n('CpuPeriod')) upd.cpuPeriod = n('CpuPeriod')!;
    if (n('CpuQuota')) upd.cpuQuota = n('CpuQuota')!;
    if (n('MemoryReservation')) upd.memoryReservation = n('MemoryReservation')!;
    if (typeof body['CpusetMems'] === 'string' && body['CpusetMems']) upd.cpusetMems = body['CpusetMems'];
    if (n('BlkioWeight')) upd.blkioWeight = n('BlkioWeight')!;
    if (n('CpuShares')) upd.cpuShares = n('CpuShares')!;
    if (typeof body['CpusetCpus'] === 'string' && body['CpusetCpus']) upd.cpusetCpus = body['CpusetCpus'];
    if (n('PidsLimit')) upd.pidsLimit = n('PidsLimit')!;
    const rp = body['RestartPolicy'] as { Name?: string; MaximumRetryCount?: number } | undefined;
    if (rp?.Name) upd.restartPolicy = { name: rp.Name, maximumRetryCount: rp.MaximumRetryCount ?? 0 };
    const r = await b.engine.UpdateContainer(upd);
    sendJson(res, 200, { Warnings: r.warnings });
  });

  // docker diff: Docker's ChangeType numbers (0 modified, 1 added, 2 deleted).
  router.add('GET', `${C}/changes`, async (req, res) => {
    const { changes } = await b.engine.Changes({ id: req.params['id']! });
    sendJson(res, 200, changes.map((c) => ({ Path: c.path, Kind: CHANGE_KIND[c.kind] ?? 0 })));
  });

  // docker export: the engine's tar of the whole root, streamed as it comes.
  router.add('GET', `${C}/export`, async (req, res) => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const call = b.engine.Export({ id: req.params['id']! }, { signal: ac.signal, ...LONG_CALL });
    await sendTarStream(res, call as AsyncIterable<engineV1.ExportResponse__Output>);
  });

  // docker cp: GET (out of the container), HEAD (stat), PUT (into it).
  router.add('HEAD', `${C}/archive`, async (req, res) => {
    const s = await b.engine.StatPath({ id: req.params['id']!, path: pathParam(req) });
    res.writeHead(200, { 'X-Docker-Container-Path-Stat': pathStatHeader(s) });
    res.end();
  });
  router.add('GET', `${C}/archive`, async (req, res) => {
    const ac = new AbortController();
    const call = b.engine.CopyFrom({ id: req.params['id']!, path: pathParam(req) }, { signal: ac.signal });
    res.on('close', () => ac.abort());
    let started = false;
    try {
      for await (const m of call as AsyncIterable<engineV1.CopyFromResponse__Output>) {
        if (m.msg === 'stat' && m.stat) {
          res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': pathStatHeader(m.stat) });
          started = true;
        } else if (m.msg === 'data' && m.data) {
          if (!res.write(m.data)) await new Promise((r) => res.once('drain', r));
        }
      }
    } catch (e) {
      if (!started) throw e;
      res.destroy();
      return;
    }
    res.end();
  });
  router.add('PUT', `${C}/archive`, async (req, res) => {
    const { stream, response } = b.engine.CopyTo(LONG_CALL);
    stream.write({ start: {
      id: req.params['id']!, path: pathParam(req), copyUidGid: boolParam(req.query, 'copyUIDGID'),
      allowOverwriteDirWithFile: !boolParam(req.query, 'noOverwriteDirNonDir'),
    } });
    const done = response.catch((e: unknown) => { req.raw.destroy(); throw e; });
    done.catch(() => undefined);
    for await (const chunk of req.raw as AsyncIterable<Buffer>) {
      if (!stream.write({ data: chunk })) await new Promise((r) => stream.once('drain', r));
    }
    stream.end();
    await done;
    sendEmpty(res, 200);
  });

  router.add('POST', '/containers/prune', async (req, res) => {
    const r = await b.engine.Prune({ filters: toFilters(filtersParam(req.query)) });
    sendJson(res, 200, { ContainersDeleted: r.deleted, SpaceReclaimed: Number(r.spaceReclaimed) });
  });

  // Attach without an upgrade (a plain streaming 200; no stdin).
  router.add('POST', `${C}/attach`, async (req, res) => {
    const { summary, doc } = await inspectDoc(b, req.params['id']!);
    const tty = (doc['Config'] as { Tty?: boolean }).Tty === true;
    await life.attach(summary.id, summary.state, { ...attachOptionsOf(req.query), stdin: false }, responseConn(res, tty));
  });
}

function pathParam(req: Req): string {
  const p = req.query.get('path');
  if (!p) throw new InvalidArgumentError('the path query parameter is required (path=/in/the/container)', { field: 'path' });
  return p;
}

function attachOptionsOf(q: URLSearchParams) {
  const all = !boolParam(q, 'stdout') && !boolParam(q, 'stderr');
  return {
    stdin: boolParam(q, 'stdin'),
    stdout: all || boolParam(q, 'stdout'),
    stderr: all || boolParam(q, 'stderr'),
    logs: boolParam(q, 'logs'),
    detachKeys: q.get('detachKeys') ?? '',
  };
}

/** POST /containers/{id}/attach with Upgrade: tcp (docker run/attach/start -a). */
export async function hijackAttach(d: ContainerDeps, id: string, query: URLSearchParams, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const { summary, doc } = await inspectDoc(d.b, id);
  const tty = (doc['Config'] as { Tty?: boolean }).Tty === true;
  if (summary.state === 'paused') throw new DockerHttpError(409, `container ${summary.name} is paused, unpause the container before attach`);
  const { conn } = await hijack(req, socket, head, tty);
  await d.life.attach(summary.id, summary.state, attachOptionsOf(query), conn);
}

export type { StreamConn, ServerResponse };
