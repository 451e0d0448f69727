// The engine's BuildBackend (@berth/build): a Dockerfile step on the
// engine's own containers and ports.
//
// A step with work (RUN, COPY/ADD) is docker commit's path:
//   create a container of the parent image (the stage's config: user, env,
//   workdir; labelled berth.build=step) -> RUN: start it, stream its log,
//   wait for its exit; COPY: extract the step's tar streams into its root
//   (copy.ts, as docker cp) -> LayersPort.diff (the layer blob into the
//   content store) -> Images.Commit (parent + layer + the stage's config +
//   the history entry) -> remove the container, whatever happened (its root
//   snapshot, mount, cgroup and anonymous volumes go with it).
// A config-only step is Images.Commit without a layer. FROM scratch has no
// image to make a container of: its first layer step runs on an empty image
// (Images.Commit of nothing) and is committed with no parent.
import { readFileSync } from 'node:fs';
import { FailedPreconditionError } from '@berth/errors';
import type { BuildBackend, CommitStep, ImageState, TargetRoot } from '@berth/build';
import type { RootView } from '@berth/tar';
import { containerView, copyTo, withMountedRoot } from '../copy';
import type { Engine } from '../engine';
import type { LayersPort } from '../ports';
import { defaultContainerConfig, defaultHostConfig, type ContainerRecord } from '../types';
import { resolveUser } from '../user';
import type { BuildCache } from './cache';
import { authForRef, orNull, type BuildImagesPort, type BuildRegistryAuth } from './images-port';

export interface EngineBuildDeps {
  engine: Engine;
  images: BuildImagesPort;
  layers: LayersPort;
  cache: BuildCache;
  /** Where the container's root is mounted (LayersPort.mount). */
  mount: (key: string) => Promise<string>;
  /** Abandons the build (the client went away). */
  signal?: AbortSignal;
  /** Credentials for the FROM pulls of this build (BuildOptions.registry_auths). */
  registryAuths?: BuildRegistryAuth[];
}

/** Label on a build step's container (ps shows what it is). */
export const BUILD_LABEL = 'berth.build';

/** A bounded read of a small file (passwd, group) in the step's root; null when missing. */
function readSmall(view: RootView, path: string): string | null {
  try {
    const p = view.resolve(path, true);
    const st = view.lstat(p);
    if (!st.isFile() || st.size > 4 << 20) return null;
    const pin = view.at(p);
    try {
      return readFileSync(pin.path, 'utf8');
    } finally {
      pin.close();
    }
  } catch {
    return null;
  }
}

function targetRootOf(view: RootView): TargetRoot {
  return {
    kind(path) {
      try {
        const st = view.lstat(view.resolve(path, true));
        return st.isDirectory() ? 'dir' : 'other';
      } catch {
        return null;
      }
    },
    lookupOwner(spec) {
      const u = resolveUser(spec, readSmall(view, '/etc/passwd'), readSmall(view, '/etc/group'));
      return { uid: u.uid, gid: u.gid };
    },
  };
}

export function engineBuildBackend(d: EngineBuildDeps): BuildBackend {
  let emptyImage: string | null = null;
  const emptyBase = async (): Promise<string> => (emptyImage ??= await d.images.commit({ parent: '', layer: null, config: {}, createdBy: 'FROM scratch' }));

  /** A stopped container of `image` for a step, its root mounted. */
  const stepContainer = async (image: string, cfg: { cmd: string[]; user?: string; env?: string[]; workingDir?: string }): Promise<ContainerRecord> => {
    const rec = await d.engine.create({
      config: {
        ...defaultContainerConfig(image), cmd: cfg.cmd, entrypoint: [''], user: cfg.user ?? '', env: cfg.env ?? [], workingDir: cfg.workingDir ?? '',
        labels: { [BUILD_LABEL]: 'step' },
      },
      hostConfig: defaultHostConfig(),
      pull: 'never',
    });
    return rec;
  };
  const removeQuietly = async (id: string): Promise<void> => {
    await d.engine.remove(id, { force: true, volumes: true });
  };

  const runIn = async (rec: ContainerRecord, step: CommitStep & { work: { kind: 'run' } }): Promise<void> => {
    const w = step.work;
    await w.progress(` ---> Running in ${rec.id.slice(0, 12)}\n`);
    const ended = d.engine.runEnd(rec.id, d.signal);
    ended.catch(() => undefined);
    await d.engine.start(rec.id);
    // The log follows until the exit (Engine.logs ends a follow at the exit, drained).
    // A client that goes away ends the follow at once; the wait then rejects and the step's container is removed (killed).
    for await (const e of d.engine.logs(rec.id, { follow: true, ...(d.signal ? { signal: d.signal } : {}) })) await w.progress(e.line);
    const end = await ended;
    if (end.exitCode !== 0) {
      throw new FailedPreconditionError(`The command '${w.args.join(' ')}' returned a non-zero code: ${end.exitCode}`, { field: 'dockerfile' });
    }
  };

  return {
    async resolveImage(ref, pull) {
      const auth = authForRef(ref, d.registryAuths ?? []);
      if (pull) await d.images.pull(ref, auth);
      const got = await orNull(d.images.inspect(ref));
      if (got) return got;
      // Not local: pulled, as docker build does (its errors name the registry and reference).
      await d.images.pull(ref, auth);
      return d.images.inspect(ref);
    },
    async findImage(id): Promise<ImageState | null> {
      return orNull(d.images.inspect(id));
    },
    async commit(step) {
      const w = step.work;
      if (!w) return d.images.commit({ parent: step.parent, layer: null, config: step.config, createdBy: step.createdBy });
      const base = step.parent || (await emptyBase());
      const rec = w.kind === 'run'
        ? await stepContainer(base, { cmd: w.args, user: w.user, env: w.env, workingDir: w.workingDir })
        : await stepContainer(base, { cmd: ['/bin/true'] });
      try {
        if (w.kind === 'run') await runIn(rec, { ...step, work: w });
        else {
          const live = await withMountedRoot(d.engine.inspectRecord(rec.id), (key) => d.mount(key));
          const parts = w.parts(targetRootOf(containerView(live)));
          // Nothing to write (WORKDIR of a directory the image has): a config-only commit.
          if (!parts.length) return await d.images.commit({ parent: step.parent, layer: null, config: step.config, createdBy: step.createdBy });
          for (const part of parts) {
            await copyTo(live, part.dstDir, part.tar(), { copyUidGid: part.keepOwners, allowOverwriteDirWithFile: true });
          }
        }
        const layer = await d.layers.diff(rec.id);
        return await d.images.commit({ parent: step.parent, layer, config: step.config, createdBy: step.createdBy });
      } finally {
        await removeQuietly(rec.id);
      }
    },
    async withImageRoot(id, fn) {
      const rec = await stepContainer(id, { cmd: ['/bin/true'] });
      try {
        const live = await withMountedRoot(d.engine.inspectRecord(rec.id), (key) => d.mount(key));
        return await fn(containerView(live));
      } finally {
        await removeQuietly(rec.id);
      }
    },
    async cacheGet(key) {
      return d.cache.get(key);
    },
    async cachePut(key, imageId) {
      d.cache.put(key, imageId);
    },
    async tag(imageId, references) {
      for (const r of references) await d.images.tag(imageId, r);
    },
  };
}
