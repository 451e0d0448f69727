// berth.engine.v1.Builder (protos/berth/engine/v1/build.proto) on the
// engine's socket: receives the options and the context tar, extracts the
// context into a private directory of the engine's state (0700, removed at
// the end), runs @berth/build's evaluation on the engine's BuildBackend and
// streams its progress back.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { InvalidArgumentError, NotFoundError } from '@berth/errors';
import { parseDockerignore, runBuild } from '@berth/build';
import { extractTar, RootView } from '@berth/tar';
import { send, type AsyncHandlers } from '@berth/kit';
import type { engineV1 } from '@berth/proto';
import type { Engine } from '../engine';
import type { LayersPort } from '../ports';
import { BUILD_LABEL, engineBuildBackend } from './backend';
import { BuildCache } from './cache';
import type { BuildImagesPort } from './images-port';

type BuilderHandlers = AsyncHandlers<engineV1.BuilderHandlers>;

export interface BuilderDeps {
  engine: Engine;
  images: BuildImagesPort;
  layers: LayersPort;
  /** The engine's state dir: build-cache.json and the contexts being built (build/). */
  stateDir: string;
  /** Where a leftover that could not be removed is reported. */
  warn?: (msg: string) => void;
}

/**
 * What builds of an earlier engine process left when it died mid-build: the
 * extracted contexts and the step containers (labelled berth.build=step).
 * Run once when the Builder starts, before this process builds anything.
 */
async function removeLeftovers(d: BuilderDeps, contexts: string): Promise<void> {
  rmSync(contexts, { recursive: true, force: true });
  for (const c of d.engine.list({ all: true, filters: { label: [`${BUILD_LABEL}=step`] } })) {
    await d.engine.remove(c.id, { force: true, volumes: true }).catch((e: unknown) => {
      d.warn?.(`build: cannot remove the step container ${c.id.slice(0, 12)} an earlier build left: ${(e as Error).message}`);
    });
  }
}

/** The Dockerfile (and .dockerignore) are read bounded: Docker's own limit for a Dockerfile is far below. */
const MAX_DOCKERFILE = 4 << 20;

/** A build context's chunks, gunzipped when the tar is gzip (docker build accepts both). */
async function* contextTar(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = chunks[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const rest = (async function* () {
    yield first.value;
    for (;;) {
      const m = await it.next();
      if (m.done) return;
      yield m.value;
    }
  })();
  if (first.value[0] === 0x1f && first.value[1] === 0x8b) {
    for await (const c of Readable.from(rest).pipe(createGunzip())) yield c as Buffer;
  } else {
    yield* rest;
  }
}

/** A small file at `path` in the context (in-root), or null when missing. */
function readContextFile(view: RootView, path: string): string | null {
  try {
    const p = view.resolve(`/${path}`, true);
    const st = view.lstat(p);
    if (!st.isFile()) return null;
    if (st.size > MAX_DOCKERFILE) throw new InvalidArgumentError(`${path} is larger than ${MAX_DOCKERFILE} bytes`, { field: 'dockerfile' });
    const pin = view.at(p);
    try { return readFileSync(pin.path, 'utf8'); } finally { pin.close(); }
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw e;
    return null;
  }
}

export function builderHandlers(d: BuilderDeps): BuilderHandlers {
  const cache = new BuildCache(d.stateDir);
  const contexts = join(d.stateDir, 'build');
  const leftovers = removeLeftovers(d, contexts).catch((e: unknown) => d.warn?.(`build: cleaning up after earlier builds: ${(e as Error).message}`));
  return {
    Build: async (call, c) => {
      const it = (call as AsyncIterable<engineV1.BuildRequest__Output>)[Symbol.asyncIterator]();
      const first = await it.next();
      const o = first.done ? null : first.value.options;
      if (!o) throw new InvalidArgumentError('the first Build message must be options', { field: 'options' });
      for (const t of o.tags) {
        if (t.includes('@')) throw new InvalidArgumentError(`invalid tag "${t}": a build result is named by a tag, not a digest`, { field: 'tags' });
      }
      await leftovers;
      mkdirSync(contexts, { recursive: true, mode: 0o700 });
      const dir = mkdtempSync(join(contexts, 'ctx-'));
      try {
        const view = new RootView(dir);
        const chunks = (async function* () {
          for (;;) {
            const m = await it.next();
            if (m.done) return;
            if (m.value.context) yield m.value.context;
          }
        })();
        // Context files keep no owner of the client's: COPY gives them their owners.
        await extractTar(view, contextTar(chunks), { dstDir: '/', chown: { uid: 0, gid: 0 }, noOverwriteDirNonDir: false });
        const name = o.dockerfile || 'Dockerfile';
        const text = o.dockerfileContent.length ? Buffer.from(o.dockerfileContent).toString('utf8') : readContextFile(view, name);
        if (text === null) throw new NotFoundError(`Cannot locate specified Dockerfile: ${name}`, { field: 'dockerfile' });
        const ignore = parseDockerignore(readContextFile(view, '.dockerignore') ?? '');
        const backend = engineBuildBackend({
          engine: d.engine, images: d.images, layers: d.layers, cache, signal: c.signal, registryAuths: o.registryAuths,
          mount: async (key) => (await d.layers.mount(key)).rootfs,
        });
        // RUN output waits while the client's stream is full (send), so a chatty step is not buffered here without bound.
        const progress = (chunk: Buffer | string): Promise<boolean> => send(call, { progress: typeof chunk === 'string' ? Buffer.from(chunk) : chunk }, c.signal);
        const r = await runBuild(backend, {
          dockerfile: text, dockerfileName: name, context: view, ignore, buildArgs: { ...o.buildArgs }, target: o.target || undefined,
          noCache: o.noCache, pull: o.pull, labels: { ...o.labels }, tags: o.tags, progress,
        });
        call.write({ result: { imageId: r.imageId, cachedSteps: r.cached, builtSteps: r.built } });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
