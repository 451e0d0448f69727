// Image commands, on the images service (Images: list/inspect/tag/remove/
// prune; Transfer: pull/push/login/logout/import/load/save). Transfers
// render progress as Docker does: per-layer lines updated in place on a
// terminal, one line per status change otherwise.
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { InvalidArgumentError, isFailedPrecondition, isNotFound } from '@berth/errors';
import {
  IMAGES_FORMAT, ProgressRenderer, humanSize, imageRow, parseFilters, progressText, type ImageSummary,
} from '@berth/cli-kit';
import type { imagesV1 } from '@berth/proto';
import { Ctx, confirm, eachArg, readLine } from '../context';
import { printInspect } from './containers';

const shortDigest = (d: string): string => d.replace(/^sha256:/, '').slice(0, 12);

/** "reg:5000/a/b:1" -> ["reg:5000/a/b", "1"]; "<none>:<none>" -> ["", ""]. */
function repoTag(familiar: string): [string, string] {
  if (familiar.startsWith('<none>')) return ['', ''];
  const at = familiar.indexOf('@');
  const name = at >= 0 ? familiar.slice(0, at) : familiar;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? [name.slice(0, colon), name.slice(colon + 1)] : [name, ''];
}

const tsMs = (t: { seconds: number; nanos: number } | null): number => (t ? t.seconds * 1000 + Math.floor(t.nanos / 1e6) : 0);

export async function imagesLs(ctx: Ctx): Promise<number> {
  const f = parseFilters(ctx.list('filter'));
  for (const k of Object.keys(f)) {
    if (!['reference', 'label', 'dangling', 'before', 'since'].includes(k)) {
      throw new InvalidArgumentError(`invalid filter '${k}': expected reference, label, dangling, before or since`, { field: 'filter' });
    }
  }
  const dangling = f.dangling?.[0];
  if (dangling !== undefined && dangling !== 'true' && dangling !== 'false') {
    throw new InvalidArgumentError(`invalid filter 'dangling=${dangling}': expected true or false`, { field: 'filter' });
  }
  const reference = [...(f.reference ?? []), ...ctx.p.args];
  const images = ctx.images();
  const res = await images.List({
    reference, label: f.label ?? [], before: f.before?.[0] ?? '', since: f.since?.[0] ?? '',
    ...(dangling === undefined ? {} : { dangling: dangling === 'true' }),
  });
  if (ctx.bool('quiet')) {
    const ids = [...new Set(res.images.map((i) => (ctx.bool('no-trunc') ? i.id : shortDigest(i.id))))];
    for (const id of ids) ctx.out(`${id}\n`);
    return 0;
  }
  // Sizes (manifest, config, layers) come from inspect, by name: one image
  // (one ID) can have names whose manifests differ (a re-loaded image), and
  // each row shows the size of its own name's manifest.
  const sizes = new Map<string, number>();
  await Promise.all(res.images.map(async (i) => {
    const ins = await images.Inspect({ reference: i.dangling ? i.target?.digest ?? i.id : i.name, platform: null }).catch(() => undefined);
    if (ins) sizes.set(i.name, ins.size);
  }));
  const now = Date.now();
  const rows = res.images.map((i) => {
    const [repository, tag] = repoTag(i.familiarName);
    const s: ImageSummary = { repository, tag, id: i.id, digest: i.target?.digest ?? '', createdAt: tsMs(i.createdAt), size: sizes.get(i.name) ?? 0 };
    return imageRow(s, now, ctx.bool('no-trunc'));
  });
  const format = ctx.str('format') || (ctx.bool('digests') ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}' : '');
  ctx.table(rows, IMAGES_FORMAT, format);
  return 0;
}

/** A Docker-shaped image inspect document built from the images service's answer. */
export function imageDoc(i: imagesV1.ImageInspect__Output): Record<string, unknown> {
  let config: Record<string, unknown> = {};
  try { config = JSON.parse(Buffer.from(i.configJson).toString('utf8')) as Record<string, unknown>; } catch { /* an image without a readable config shows empty fields */ }
  return {
    Id: i.image?.id ?? '',
    RepoTags: i.repoTags,
    RepoDigests: i.repoDigests,
    Created: (config.created as string | undefined) ?? '',
    Author: (config.author as string | undefined) ?? '',
    Config: config.config ?? {},
    Architecture: i.platform?.architecture ?? (config.architecture as string | undefined) ?? '',
    Variant: i.platform?.variant || undefined,
    Os: i.platform?.os ?? (config.os as string | undefined) ?? '',
    Size: i.size,
    RootFS: { Type: 'layers', Layers: i.layers.map((l) => l.diffId) },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

export async function imageInspect(ctx: Ctx, names = ctx.p.args): Promise<number> {
  const docs: unknown[] = [];
  let failed = 0;
  for (const reference of names) {
    try {
      docs.push(imageDoc(await ctx.images().Inspect({ reference, platform: null })));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      ctx.err(`berth: no such image: ${reference}\n`);
      failed++;
    }
  }
  printInspect(ctx, docs);
  return failed ? 1 : 0;
}

export async function imageRm(ctx: Ctx): Promise<number> {
  const images = ctx.images();
  return eachArg(ctx, ctx.p.args, async (reference) => {
    const r = await images.Remove({ reference, force: ctx.bool('force'), noPrune: ctx.bool('no-prune') });
    return [...r.untagged.map((u) => `Untagged: ${u}`), ...r.deleted.map((d) => `Deleted: ${d}`)].join('\n') || undefined;
  });
}

export async function tag(ctx: Ctx): Promise<number> {
  const [source, target] = ctx.p.args as [string, string];
  if (target.includes('@')) throw new InvalidArgumentError(`invalid reference format: ${target}: a tag target cannot contain a digest`, { field: 'TARGET_IMAGE' });
  await ctx.images().Tag({ source, target });
  return 0;
}

export async function imagePrune(ctx: Ctx): Promise<number> {
  if (ctx.list('filter').length) throw new InvalidArgumentError('berth image prune does not support --filter yet', { field: 'filter' });
  const all = ctx.bool('all');
  const warning = all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.';
  if (!ctx.bool('force') && !(await confirm(ctx, `${warning}\nAre you sure you want to continue?`))) return 0;
  const images = ctx.images();
  const untagged: string[] = [];
  const deleted: string[] = [];
  let freed = 0;
  if (all) {
    // Named images too: remove each; the service refuses (FAILED_PRECONDITION) those a container uses.
    const { images: list } = await images.List({ reference: [], label: [], before: '', since: '' });
    for (const i of list.filter((x) => !x.dangling)) {
      try {
        const r = await images.Remove({ reference: i.name, force: false, noPrune: false });
        untagged.push(...r.untagged);
        deleted.push(...r.deleted);
        freed += r.gc?.freedBytes ?? 0;
      } catch (e) {
        if (!isFailedPrecondition(e) && !isNotFound(e)) throw e;
      }
    }
  }
  const r = await images.Prune({});
  untagged.push(...r.untagged);
  deleted.push(...r.deleted);
  freed += r.gc?.freedBytes ?? 0;
  if (untagged.length || deleted.length) {
    ctx.out(`Deleted Images:\n${untagged.map((u) => `untagged: ${u}\n`).join('')}${deleted.map((d) => `deleted: ${d}\n`).join('')}\n`);
  }
  ctx.out(`Total reclaimed space: ${humanSize(freed)}\n`);
  return 0;
}

function platformOf(flag: string): { os: string; architecture: string; variant: string } | null {
  if (!flag) return null;
  const [os, architecture, variant = ''] = flag.split('/');
  if (!os || !architecture) throw new InvalidArgumentError(`invalid argument "${flag}" for "--platform": expected os/arch[/variant] (linux/amd64)`, { field: 'platform' });
  return { os, architecture, variant };
}

/** Docker lists layers only, not manifests, indexes or configs. */
const isLayer = (mediaType: string): boolean => !/manifest|index|config/.test(mediaType);

/** Docker's wording for the service's blob/layer statuses. */
const BLOB_STATUS: Record<string, string> = {
  exists: 'Already exists', waiting: 'Waiting', downloading: 'Downloading', uploading: 'Pushing', mounted: 'Mounted from another repository', done: 'Download complete',
};

export async function pull(ctx: Ctx): Promise<number> {
  let reference = ctx.p.args[0]!;
  const quiet = ctx.bool('quiet');
  const platform = platformOf(ctx.str('platform'));
  if (ctx.bool('all-tags')) {
    // docker pull -a: every tag the registry lists for the repository, one after another.
    if (reference.includes('@') || repoTag(reference)[1] !== '') {
      throw new InvalidArgumentError(`tag can't be used with --all-tags/-a: give the repository alone, not ${reference}`, { field: 'all-tags' });
    }
    const { tags } = await ctx.transfer().ListTags({ repository: reference });
    if (tags.length === 0) throw new InvalidArgumentError(`repository ${reference} has no tags on its registry`, { field: 'all-tags' });
    for (const tag of tags) await pullOne(ctx, `${reference}:${tag}`, quiet, platform);
    return 0;
  }
  if (!reference.includes('@') && repoTag(reference)[1] === '') {
    reference = `${reference}:latest`;
    if (!quiet) ctx.out('Using default tag: latest\n');
  }
  await pullOne(ctx, reference, quiet, platform);
  return 0;
}

async function pullOne(ctx: Ctx, reference: string, quiet: boolean, platform: ReturnType<typeof platformOf>): Promise<void> {
  const progress = new ProgressRenderer(ctx.io.stdout);
  const [repo, tagName] = repoTag(reference);
  if (!quiet) ctx.out(`${tagName || reference.split('@')[1]}: Pulling from ${repo}\n`);
  const stream = ctx.transfer().Pull({ reference, platform, labels: {} });
  let image: imagesV1.Image__Output | null = null;
  let resolved = '';
  let downloaded = false;
  for await (const m of stream as AsyncIterable<imagesV1.PullResponse__Output>) {
    if (m.event === 'resolved') resolved = m.resolved?.digest ?? '';
    else if (m.event === 'blob' && m.blob && !quiet) {
      if (m.blob.status === 'downloading') downloaded = true;
      if (!isLayer(m.blob.mediaType)) continue;
      progress.update({ id: shortDigest(m.blob.digest), status: BLOB_STATUS[m.blob.status] ?? m.blob.status, current: m.blob.status === 'downloading' ? m.blob.current : undefined, total: m.blob.total });
    } else if (m.event === 'layer' && m.layer && !quiet) {
      const status = m.layer.status === 'applying' ? 'Extracting' : m.layer.status === 'applied' ? 'Pull complete' : 'Already exists';
      progress.update({ id: shortDigest(m.layer.digest), status });
    } else if (m.event === 'image') image = m.image ?? null;
  }
  const name = image?.familiarName || reference;
  if (!quiet) {
    if (resolved) ctx.out(`Digest: ${resolved}\n`);
    ctx.out(`Status: ${downloaded ? 'Downloaded newer image' : 'Image is up to date'} for ${name}\n`);
  }
  ctx.out(`${image?.name || name}\n`);
}

export async function push(ctx: Ctx): Promise<number> {
  const reference = ctx.p.args[0]!;
  const quiet = ctx.bool('quiet');
  if (ctx.bool('all-tags')) {
    // docker push -a: every local tag of the repository.
    if (reference.includes('@') || repoTag(reference)[1] !== '') {
      throw new InvalidArgumentError(`tag can't be used with --all-tags/-a: give the repository alone, not ${reference}`, { field: 'all-tags' });
    }
    const res = await ctx.images().List({ reference: [reference], label: [], before: '', since: '' });
    const names = [...new Set(res.images.filter((i) => !i.dangling && repoTag(i.familiarName)[0] === reference).map((i) => i.familiarName))].sort();
    if (names.length === 0) throw new InvalidArgumentError(`no local tags of ${reference} to push: tag an image ${reference}:<tag> first`, { field: 'all-tags' });
    if (!quiet) ctx.out(`The push refers to repository [${reference}]\n`);
    for (const name of names) await pushOne(ctx, name, quiet);
    return 0;
  }
  if (!quiet) ctx.out(`The push refers to repository [${repoTag(reference)[0]}]\n`);
  await pushOne(ctx, reference, quiet);
  return 0;
}

async function pushOne(ctx: Ctx, reference: string, quiet: boolean): Promise<void> {
  const progress = new ProgressRenderer(ctx.io.stdout);
  // The image's config blob goes up too; Docker lists layers only. The service does not always
  // say a blob's media type, so the config is recognised by its digest (the image ID).
  const configDigest = (await ctx.images().Inspect({ reference, platform: null })).image?.id ?? '';
  const stream = ctx.transfer().Push({ reference, remote: '' });
  let digest = '';
  for await (const m of stream as AsyncIterable<imagesV1.PushResponse__Output>) {
    if (m.event === 'blob' && m.blob && !quiet) {
      if (!isLayer(m.blob.mediaType) || m.blob.digest === configDigest) continue;
      const status = m.blob.status === 'exists' ? 'Layer already exists' : m.blob.status === 'done' ? 'Pushed' : m.blob.status === 'uploading' ? 'Pushing' : BLOB_STATUS[m.blob.status] ?? m.blob.status;
      progress.update({ id: shortDigest(m.blob.digest), status, current: m.blob.status === 'uploading' ? m.blob.current : undefined, total: m.blob.total });
    } else if (m.event === 'digest') digest = m.digest ?? '';
  }
  ctx.out(quiet ? `${reference}\n` : `${repoTag(reference)[1] || 'latest'}: digest: ${digest}\n`);
}

export async function login(ctx: Ctx): Promise<number> {
  const registry = ctx.p.args[0] ?? 'docker.io';
  let username = ctx.str('username');
  let password = ctx.str('password');
  if (ctx.bool('password-stdin')) {
    if (password) throw new InvalidArgumentError('--password and --password-stdin are mutually exclusive', { field: 'password-stdin' });
    if (!username) throw new InvalidArgumentError('must provide --username with --password-stdin', { field: 'username' });
    let all = '';
    for await (const c of ctx.io.stdin) all += String(c);
    password = all.replace(/\r?\n$/, '');
  } else if (password) {
    ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  }
  if (!username) {
    ctx.out('Username: ');
    username = (await readLine(ctx.io.stdin)).trim();
  }
  if (!password) password = await readSecret(ctx, 'Password: ');
  if (!username || !password) throw new InvalidArgumentError('Error: Cannot perform an interactive login without a username and a password', { field: username ? 'password' : 'username' });
  await ctx.transfer().Login({ registry, username, password });
  ctx.out('Login Succeeded\n');
  return 0;
}

/** Reads a line without echoing it on a terminal. */
async function readSecret(ctx: Ctx, prompt: string): Promise<string> {
  const { stdin } = ctx.io;
  ctx.out(prompt);
  if (!stdin.isTTY) return readLine(stdin);
  stdin.setRawMode(true);
  try {
    let s = '';
    stdin.resume();
    for (;;) {
      const [chunk] = (await once(stdin, 'data')) as [Buffer];
      for (const b of chunk) {
        if (b === 13 || b === 10) { ctx.out('\n'); return s; }
        if (b === 3) throw new InvalidArgumentError('login cancelled', { field: 'password' });
        if (b === 127) s = s.slice(0, -1);
        else s += String.fromCharCode(b);
      }
    }
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

export async function logout(ctx: Ctx): Promise<number> {
  const registry = ctx.p.args[0] ?? 'docker.io';
  const r = await ctx.transfer().Logout({ registry });
  ctx.out(r.removed ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
  return 0;
}

/** A status line on stderr rewritten in place on a terminal (load/save/import progress). */
function byteProgress(ctx: Ctx, label: string, total: number): { add(n: number): void; done(): void } {
  const err = ctx.io.stderr;
  const tty = err.isTTY === true;
  let current = 0;
  let last = 0;
  return {
    add(n) {
      current += n;
      if (!tty || Date.now() - last < 100) return;
      last = Date.now();
      err.write(`\r\x1b[2K${label} ${progressText(current, total, err.columns ?? 80)}`);
    },
    done() {
      if (tty) err.write(`\r\x1b[2K${label} ${progressText(current, total || current, err.columns ?? 80)}\n`);
    },
  };
}

export async function save(ctx: Ctx): Promise<number> {
  const output = ctx.str('output');
  if (!output && ctx.io.stdout.isTTY) {
    throw new InvalidArgumentError('cowardly refusing to save to a terminal. Use the -o flag or redirect', { field: 'output' });
  }
  const stream = ctx.transfer().Save({ references: ctx.p.args, format: 'docker', platform: null });
  // The file is created with the first bytes, so a failed save (unknown image) leaves none behind.
  let dest: NodeJS.WritableStream | undefined = output ? undefined : ctx.io.stdout;
  const progress = byteProgress(ctx, 'Saving', 0);
  try {
    for await (const m of stream as AsyncIterable<imagesV1.SaveResponse__Output>) {
      dest ??= createWriteStream(output);
      progress.add(m.data.length);
      if (!dest.write(m.data)) await once(dest, 'drain');
    }
  } catch (e) {
    if (output && dest) { dest.end(); await once(dest, 'finish'); rmSync(output, { force: true }); }
    throw e;
  }
  progress.done();
  if (output) {
    dest ??= createWriteStream(output);
    dest.end();
    await once(dest, 'finish');
  }
  return 0;
}

/** Streams a file (or stdin for "" / "-") into a client-streaming call's messages. */
async function streamInput(ctx: Ctx, path: string, label: string, write: (chunk: Buffer) => boolean, drain: () => Promise<void>): Promise<void> {
  const src = path && path !== '-' ? createReadStream(path) : ctx.io.stdin;
  if (src === ctx.io.stdin && ctx.io.stdin.isTTY) {
    throw new InvalidArgumentError('requested load from stdin, but stdin is empty', { field: 'input' });
  }
  const total = path && path !== '-' ? statSync(path).size : 0;
  const progress = byteProgress(ctx, label, total);
  for await (const c of src) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    progress.add(b.length);
    if (!write(b)) await drain();
  }
  progress.done();
}

export async function load(ctx: Ctx): Promise<number> {
  const { stream, response } = ctx.transfer().Load();
  response.catch(() => undefined); // awaited below; keeps an early server error from being unhandled
  stream.write({ baseName: '', platform: null });
  await streamInput(ctx, ctx.str('input'), 'Loading', (data) => stream.write({ data }), () => once(stream, 'drain').then(() => undefined));
  stream.end();
  const r = await response;
  for (const i of r.images) ctx.out(`Loaded image${i.dangling ? ' ID' : ''}: ${i.dangling ? i.id : i.familiarName}\n`);
  return 0;
}

export async function imp(ctx: Ctx): Promise<number> {
  const [source, reference = ''] = ctx.p.args as [string, string?];
  const labels: Record<string, string> = {};
  for (const c of ctx.list('change')) {
    // The service records a message and labels only; other instructions would be silently lost.
    const m = /^LABEL\s+([^=\s]+)=(.*)$/i.exec(c.trim());
    if (!m) throw new InvalidArgumentError(`invalid argument "${c}" for "-c, --change": berth import supports LABEL key=value only`, { field: 'change' });
    labels[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  const { stream, response } = ctx.transfer().Import();
  response.catch(() => undefined);
  stream.write({ reference, message: ctx.str('message'), labels });
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source);
    if (!res.ok || !res.body) throw new InvalidArgumentError(`cannot download ${source}: HTTP ${res.status}`, { field: 'file|URL' });
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!stream.write({ data: Buffer.from(c) })) await once(stream, 'drain');
    }
  } else {
    await streamInput(ctx, source, 'Importing', (data) => stream.write({ data }), () => once(stream, 'drain').then(() => undefined));
  }
  stream.end();
  const img = await response;
  ctx.out(`${img.id}\n`);
  return 0;
}
