// /images/*, /commit, /auth (/build is build.ts): Docker's image endpoints onto the images
// service's Images and Transfer contracts (and the engine's Commit).
// Pull and push answer 200 at once and stream Docker's JSON progress
// messages; a failure after that is an {"error", "errorDetail"} message
// inside the 200, as Docker sends it (clients read it from the stream).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError, isFailedPrecondition, isNotFound } from '@berth/errors';
import type { imagesV1 } from '@berth/proto';
import { LONG_CALL, type Backends } from './backends';
import { boolParam, filtersParam, notImplemented, readJson, sendJson, sendTarStream, type Router } from './http';

const seconds = (t: { seconds?: number | string | Long; nanos?: number } | null | undefined): number => Number((t as { seconds?: unknown } | null)?.seconds ?? 0);
type Long = { toNumber(): number };

const RFC3339_ZERO = '0001-01-01T00:00:00Z';

/** "busybox" + tag "1.36" -> "busybox:1.36"; digests stay; a tag already in the name wins. */
export function joinRef(name: string, tag: string | null): string {
  if (!tag) return name;
  const lastSlash = name.lastIndexOf('/');
  if (name.includes('@') || name.slice(lastSlash + 1).includes(':')) return name;
  return tag.startsWith('sha256:') ? `${name}@${tag}` : `${name}:${tag}`;
}

function progressWriter(res: ServerResponse) {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  return {
    send: (m: Record<string, unknown>) => res.write(JSON.stringify(m) + '\r\n'),
    fail: (e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      res.write(JSON.stringify({ errorDetail: { message }, error: message }) + '\r\n');
    },
  };
}

/** X-Registry-Auth: base64url JSON {username, password, serveraddress}. */
function registryAuth(header: string | string[] | undefined): { username: string; password: string; serveraddress: string } | undefined {
  if (typeof header !== 'string' || !header) return undefined;
  try {
    const j = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, string>;
    if (!j['username'] && !j['password']) return undefined;
    return { username: j['username'] ?? '', password: j['password'] ?? '', serveraddress: j['serveraddress'] ?? '' };
  } catch {
    return undefined;
  }
}

function registryOf(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

const shortDigest = (d: string): string => d.replace(/^sha256:/, '').slice(0, 12);

/** docker image inspect (moby api/types ImageInspect) from the images service's ImageInspect. */
export function imageInspectDoc(i: imagesV1.ImageInspect__Output): Record<string, unknown> {
  const cfg = JSON.parse(i.configJson.length ? i.configJson.toString('utf8') : '{}') as Record<string, unknown>;
  const c = (cfg['config'] ?? {}) as Record<string, unknown>;
  const rootfs = (cfg['rootfs'] ?? { type: 'layers', diff_ids: [] }) as { type?: string; diff_ids?: string[] };
  const config = {
    Hostname: '', Domainname: '', User: c['User'] ?? '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
    ExposedPorts: c['ExposedPorts'] ?? null, Tty: false, OpenStdin: false, StdinOnce: false, Env: c['Env'] ?? null,
    Cmd: c['Cmd'] ?? null, Image: '', Volumes: c['Volumes'] ?? null, WorkingDir: c['WorkingDir'] ?? '',
    Entrypoint: c['Entrypoint'] ?? null, OnBuild: null, Labels: c['Labels'] ?? null,
    ...(c['StopSignal'] ? { StopSignal: c['StopSignal'] } : {}),
  };
  return {
    Id: i.image?.id ?? '',
    RepoTags: i.repoTags,
    RepoDigests: i.repoDigests,
    Parent: '',
    Comment: '',
    Created: typeof cfg['created'] === 'string' ? cfg['created'] : RFC3339_ZERO,
    Container: '',
    ContainerConfig: config,
    DockerVersion: '',
    Author: typeof cfg['author'] === 'string' ? cfg['author'] : '',
    Config: config,
    Architecture: i.platform?.architecture ?? cfg['architecture'] ?? '',
    ...(i.platform?.variant ? { Variant: i.platform.variant } : {}),
    Os: i.platform?.os ?? cfg['os'] ?? 'linux',
    Size: Number(i.size),
    VirtualSize: Number(i.size),
    GraphDriver: { Name: 'overlay', Data: null },
    RootFS: { Type: rootfs.type ?? 'layers', Layers: rootfs.diff_ids ?? [] },
    Metadata: { LastTagTime: RFC3339_ZERO },
  };
}

export function registerImages(router: Router, b: Backends): void {
  const N = '/images/(?<name>.+)';

  router.add('GET', '/images/json', async (req, res) => {
    const f = filtersParam(req.query);
    const dangling = f['dangling']?.[0];
    const { images } = await b.images.List({
      reference: [...(f['reference'] ?? []), ...(req.query.get('filter') ? [req.query.get('filter')!] : [])],
      label: [],
      ...(dangling !== undefined ? { dangling: dangling === 'true' || dangling === '1' } : {}),
      before: f['before']?.[0] ?? '', since: f['since']?.[0] ?? '',
    });
    // One entry per image ID, with every name it has.
    const byId = new Map<string, imagesV1.Image__Output[]>();
    for (const i of images) byId.set(i.id, [...(byId.get(i.id) ?? []), i]);
    // SharedSize against every local image, not only the listed ones (as Docker's).
    const all = filtered(f) || req.query.get('filter') ? (await b.images.List({ reference: [], label: [], before: '', since: '' })).images : images;
    const [facts, { containers }] = await Promise.all([
      imageFactsOf(b, [...new Set(all.map((i) => i.id))]),
      b.engine.ListContainers({ all: true, filters: {}, limit: 0, size: false }),
    ]);
    const shared = sharedSizes(facts);
    const counts = containerCounts(containers);
    const out = (await Promise.all([...byId].map(async ([id, recs]) => {
      const first = recs[0]!;
      const { size, labels } = facts.get(id) ?? await imageFacts(b, id);
      if (!labelsMatch(labels, f['label'] ?? [])) return undefined;
      const tags = recs.filter((r) => !r.dangling).map((r) => r.familiarName);
      const repoDigests = recs.filter((r) => !r.dangling && r.target).map((r) => `${r.familiarName.replace(/[:@].*$/, '')}@${r.target!.digest}`);
      return {
        Id: id, ParentId: '', RepoTags: tags.length ? tags : ['<none>:<none>'], RepoDigests: [...new Set(repoDigests)],
        Created: seconds(first.createdAt), Size: size, SharedSize: shared.get(id) ?? 0, VirtualSize: size, Labels: labels, Containers: counts.get(id) ?? 0,
      };
    }))).filter((x) => x !== undefined);
    out.sort((a, b2) => b2.Created - a.Created);
    sendJson(res, 200, out);
  });

  router.add('POST', '/images/create', async (req, res) => {
    const q = req.query;
    if (q.get('fromSrc')) {
      await importImage(b, q, req.raw, res);
      return;
    }
    const from = q.get('fromImage');
    if (!from) throw new InvalidArgumentError('fromImage is required: the image to pull', { field: 'fromImage' });
    const ref = joinRef(from, q.get('tag'));
    const platform = q.get('platform');
    const [os = '', architecture = '', variant = ''] = platform ? platform.split('/') : [];
    const auth = registryAuth(req.raw.headers['x-registry-auth']);
    if (auth) await b.transfer.Login({ registry: auth.serveraddress || registryOf(ref), username: auth.username, password: auth.password });
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const call = b.transfer.Pull({ reference: ref, ...(platform ? { platform: { os, architecture, variant, osVersion: '', osFeatures: [] } } : {}), labels: {} }, { signal: ac.signal });
    // The first message decides the status: a missing image is a 404 before anything streams.
    const it = (call as AsyncIterable<imagesV1.PullResponse__Output>)[Symbol.asyncIterator]();
    const first = await it.next();
    const w = progressWriter(res);
    const tag = ref.includes('@') ? ref.slice(ref.indexOf('@') + 1) : ref.slice(ref.lastIndexOf('/') + 1).split(':')[1] ?? 'latest';
    w.send({ status: `Pulling from ${ref.replace(/[:@][^/]*$/, '')}`, id: tag });
    try {
      for (let m = first; !m.done; m = await it.next()) {
        const ev = m.value;
        if (ev.event === 'blob' && ev.blob) {
          const id = shortDigest(ev.blob.digest);
          const st = ev.blob.status;
          if (st === 'done' || st === 'exists') w.send({ status: st === 'exists' ? 'Already exists' : 'Download complete', progressDetail: {}, id });
          else w.send({ status: 'Downloading', progressDetail: { current: Number(ev.blob.current), total: Number(ev.blob.total) }, id });
        } else if (ev.event === 'layer' && ev.layer) {
          w.send({ status: 'Pull complete', progressDetail: {}, id: shortDigest(ev.layer.digest) });
        } else if (ev.event === 'resolved' && ev.resolved) {
          w.send({ status: `Digest: ${ev.resolved.digest}` });
        } else if (ev.event === 'image' && ev.image) {
          w.send({ status: `Status: Downloaded newer image for ${ev.image.familiarName}` });
        }
      }
    } catch (e) {
      if (!ac.signal.aborted) w.fail(e);
    }
    res.end();
  });

  router.add('POST', `${N}/push`, async (req, res) => {
    const ref = joinRef(req.params['name']!, req.query.get('tag'));
    const auth = registryAuth(req.raw.headers['x-registry-auth']);
    if (auth) await b.transfer.Login({ registry: auth.serveraddress || registryOf(ref), username: auth.username, password: auth.password });
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const w = progressWriter(res);
    w.send({ status: `The push refers to repository [${ref.replace(/[:@][^/]*$/, '')}]` });
    try {
      for await (const m of b.transfer.Push({ reference: ref, remote: '' }, { signal: ac.signal }) as AsyncIterable<imagesV1.PushResponse__Output>) {
        if (m.event === 'blob' && m.blob) {
          const id = shortDigest(m.blob.digest);
          if (m.blob.status === 'exists') w.send({ status: 'Layer already exists', progressDetail: {}, id });
          else if (m.blob.status === 'done') w.send({ status: 'Pushed', progressDetail: {}, id });
          else w.send({ status: 'Pushing', progressDetail: { current: Number(m.blob.current), total: Number(m.blob.total) }, id });
        } else if (m.event === 'digest' && m.digest) {
          w.send({ status: `${ref.split(':').pop()}: digest: ${m.digest}` });
          w.send({ progressDetail: {}, aux: { Tag: ref.split(':').pop(), Digest: m.digest } });
        }
      }
    } catch (e) {
      if (!ac.signal.aborted) w.fail(e);
    }
    res.end();
  });

  router.add('GET', '/images/get', async (req, res) => save(b, req.query.getAll('names'), res));
  router.add('GET', `${N}/get`, async (req, res) => save(b, [req.params['name']!], res));

  router.add('POST', '/images/load', async (req, res) => {
    const { stream, response } = b.transfer.Load(LONG_CALL);
    stream.write({ baseName: '', data: Buffer.alloc(0) });
    const done = response.catch((e: unknown) => { req.raw.destroy(); throw e; });
    done.catch(() => undefined);
    for await (const chunk of req.raw as AsyncIterable<Buffer>) {
      if (!stream.write({ data: chunk })) await new Promise((r) => stream.once('drain', r));
    }
    stream.end();
    const r = await done;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    for (const i of r.images) res.write(JSON.stringify({ stream: i.dangling ? `Loaded image ID: ${i.id}\n` : `Loaded image: ${i.familiarName}\n` }) + '\r\n');
    res.end();
  });

  router.add('POST', '/images/prune', async (req, res) => {
    const f = filtersParam(req.query);
    for (const k of Object.keys(f)) {
      if (!['dangling', 'label', 'until'].includes(k)) throw new InvalidArgumentError(`invalid filter '${k}' for image prune: dangling, label and until are accepted`, { field: 'filters' });
    }
    const dangling = f['dangling']?.[0];
    const onlyDangling = dangling === undefined || dangling === 'true' || dangling === '1';
    if (onlyDangling && !f['label']?.length && !f['until']?.length) {
      const r = await b.images.Prune({});
      sendJson(res, 200, { ImagesDeleted: [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))], SpaceReclaimed: 0 });
      return;
    }
    // docker image prune -a (dangling=false), or with label/until: every matching image no container
    // uses goes with all its names, as Docker's prune does; one a container uses is skipped.
    const untilMs = f['until']?.[0] ? untilMsOf(f['until'][0]) : undefined;
    const [{ images }, { containers }] = await Promise.all([
      b.images.List({ reference: [], label: [], ...(onlyDangling ? { dangling: true } : {}), before: '', since: '' }),
      b.engine.ListContainers({ all: true, filters: {}, limit: 0, size: false }),
    ]);
    const used = new Set(containers.map((c) => c.imageDigest));
    const out: Record<string, string>[] = [];
    const ids = [...new Set(images.filter((i) => untilMs === undefined || seconds(i.createdAt) * 1000 < untilMs).map((i) => i.id))];
    for (const id of ids) {
      if (used.has(id) || !labelsMatch((await imageFacts(b, id)).labels, f['label'] ?? [])) continue;
      try {
        const r = await b.images.Remove({ reference: id, force: true, noPrune: false });
        out.push(...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d })));
      } catch (e) {
        if (!isNotFound(e) && !isFailedPrecondition(e)) throw e; // gone or taken meanwhile: skipped
      }
    }
    sendJson(res, 200, { ImagesDeleted: out, SpaceReclaimed: 0 });
  });

  router.add('GET', '/images/search', async () => { throw notImplemented('image search'); });

  router.add('GET', `${N}/json`, async (req, res) => {
    sendJson(res, 200, imageInspectDoc(await b.images.Inspect({ reference: req.params['name']! })));
  });

  router.add('GET', `${N}/history`, async (req, res) => {
    const i = await b.images.Inspect({ reference: req.params['name']! });
    const layers = [...i.layers];
    const rows = i.history.map((h) => {
      const size = h.emptyLayer ? 0 : Number(layers.shift()?.descriptor?.size ?? 0);
      return { Id: '<missing>', Created: Math.floor(Date.parse(h.created || '1970-01-01') / 1000), CreatedBy: h.createdBy, Tags: null, Size: size, Comment: h.comment };
    }).reverse();
    if (rows[0]) Object.assign(rows[0], { Id: i.image?.id ?? '', Tags: i.repoTags });
    sendJson(res, 200, rows);
  });

  router.add('POST', `${N}/tag`, async (req, res) => {
    const repo = req.query.get('repo');
    if (!repo) throw new InvalidArgumentError('repo is required: the new name', { field: 'repo' });
    await b.images.Tag({ source: req.params['name']!, target: joinRef(repo, req.query.get('tag') || 'latest') });
    res.writeHead(201);
    res.end();
  });

  router.add('DELETE', N, async (req, res) => {
    const r = await b.images.Remove({ reference: req.params['name']!, force: boolParam(req.query, 'force'), noPrune: boolParam(req.query, 'noprune') });
    sendJson(res, 200, [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))]);
  });

  router.add('POST', '/commit', async (req, res) => {
    const q = req.query;
    const container = q.get('container');
    if (!container) throw new InvalidArgumentError('container is required: the container to commit', { field: 'container' });
    // The docker CLI sends its (usually empty) config as the body; berth applies changes= only.
    const body = (await readJson<Record<string, unknown> | null>(req.raw)) ?? {};
    const given = Object.entries(body).filter(([, v]) => v !== null && v !== '' && v !== false && v !== 0 && !(Array.isArray(v) && !v.length) && !(typeof v === 'object' && v && !Object.keys(v).length));
    if (given.length) throw notImplemented(`a config document in the commit body (${given.map(([k]) => k).join(', ')}; use changes=)`);
    const r = await b.engine.Commit({
      id: container, repository: q.get('repo') ?? '', tag: q.get('tag') ?? '', author: q.get('author') ?? '',
      message: q.get('comment') ?? '', changes: q.getAll('changes').flatMap((c) => c.split('\n')).filter(Boolean), pause: boolParam(q, 'pause', true),
    });
    sendJson(res, 201, { Id: r.imageId });
  });

  router.add('POST', '/auth', async (req, res) => {
    const body = await readJson<Record<string, string>>(req.raw);
    await b.transfer.Login({ registry: body['serveraddress'] || 'docker.io', username: body['username'] ?? '', password: body['password'] ?? '' });
    sendJson(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });
}

/**
 * docker import: fromSrc=- with the archive (a root filesystem tar, gzip or
 * zstd too) as the body, onto the images service's Import; the answer is
 * Docker's progress stream ending with the new image's id.
 */
/**
 * What Docker shows of an image beside its names: its size and its labels,
 * which are the config's (LABEL, commit --change), not the store record's.
 */
export interface ImageFacts {
  size: number;
  labels: Record<string, string>;
  /** Its layers: diff ID -> compressed size. */
  layers: Map<string, number>;
}

async function imageFacts(b: Backends, id: string): Promise<ImageFacts> {
  try {
    const i = await b.images.Inspect({ reference: id });
    const cfg = JSON.parse(i.configJson.length ? i.configJson.toString('utf8') : '{}') as { config?: { Labels?: Record<string, string> | null } };
    const layers = new Map(i.layers.map((l) => [l.diffId, Number(l.descriptor?.size ?? 0)]));
    return { size: Number(i.size), labels: { ...i.image?.labels, ...cfg.config?.Labels }, layers };
  } catch {
    return { size: 0, labels: {}, layers: new Map() };
  }
}

/** Each image's facts, one Inspect per image. */
export async function imageFactsOf(b: Backends, ids: string[]): Promise<Map<string, ImageFacts>> {
  return new Map(await Promise.all(ids.map(async (id) => [id, await imageFacts(b, id)] as const)));
}

/**
 * Docker's SharedSize: the bytes of an image's layers that another local
 * image has too (the same diff ID), counted once per image.
 */
export function sharedSizes(facts: Map<string, ImageFacts>): Map<string, number> {
  const holders = new Map<string, number>();
  for (const f of facts.values()) for (const d of f.layers.keys()) holders.set(d, (holders.get(d) ?? 0) + 1);
  return new Map([...facts].map(([id, f]) => [id, [...f.layers].reduce((n, [d, size]) => n + ((holders.get(d) ?? 0) > 1 ? size : 0), 0)]));
}

/** Docker's Containers of an image: how many containers (any state) it was created from. */
export function containerCounts(containers: { imageDigest: string }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of containers) out.set(c.imageDigest, (out.get(c.imageDigest) ?? 0) + 1);
  return out;
}

/** Whether the list was narrowed (then SharedSize needs every image). */
function filtered(f: Record<string, string[]>): boolean {
  return Object.values(f).some((v) => v.length > 0);
}

/** Docker's label filter: every "key" present, every "key=value" equal. */
function labelsMatch(labels: Record<string, string>, filters: string[]): boolean {
  return filters.every((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
  });
}

/** until: unix seconds, RFC 3339, or a duration before now ("24h", "90m"). */
function untilMsOf(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+(?:\.\d+)?)(h|m|s)$/.exec(v);
  if (d) return Date.now() - Number(d[1]) * { h: 3_600_000, m: 60_000, s: 1000 }[d[2] as 'h' | 'm' | 's'];
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`invalid until "${v}": expected a timestamp or a duration such as 24h`, { field: 'filters' });
  return ms;
}

async function importImage(b: Backends, q: URLSearchParams, body: IncomingMessage, res: ServerResponse): Promise<void> {
  if (q.get('fromSrc') !== '-') throw notImplemented('docker import from a URL (fromSrc=<url>; send the archive as the request body, fromSrc=-)');
  const changes = q.getAll('changes').flatMap((c) => c.split('\n')).filter(Boolean);
  if (changes.length) throw notImplemented(`Dockerfile changes on import (${changes.join('; ')}); import, then commit a container with --change`);
  const repo = q.get('repo') ?? '';
  const { stream, response } = b.transfer.Import({ timeoutMs: LONG_CALL.timeoutMs });
  stream.write({ reference: repo ? joinRef(repo, q.get('tag')) : '', message: q.get('message') ?? '', labels: {}, data: Buffer.alloc(0) });
  const done = response.catch((e: unknown) => { body.destroy(); throw e; });
  done.catch(() => undefined);
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (!stream.write({ data: chunk })) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
  const img = await done;
  const w = progressWriter(res);
  w.send({ status: img.id });
  res.end();
}

async function save(b: Backends, names: string[], res: ServerResponse): Promise<void> {
  if (!names.length) throw new InvalidArgumentError('names is required: the images to save', { field: 'names' });
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  const call = b.transfer.Save({ references: names, format: 'docker' }, { signal: ac.signal });
  await sendTarStream(res, call as AsyncIterable<imagesV1.SaveResponse__Output>);
}
