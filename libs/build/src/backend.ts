// What a build needs from the engine that runs it (BuildBackend), kept to
// the few operations a Dockerfile step is made of, so the evaluation
// (evaluate.ts) is tested with a double and the engine implements it with
// its own containers and ports (libs/engine/src/build-backend.ts).
import type { RootView } from '@berth/tar';
import type { TarPart, TargetRoot } from './copy-plan';
import type { Healthcheck } from './instructions';

/**
 * The image config's "config" object (OCI image-spec config.md, Docker's
 * container.Config subset an image carries). Keys a commit names replace the
 * parent's.
 */
export interface OciConfig {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  StopSignal?: string;
  Healthcheck?: Healthcheck | null;
  Shell?: string[] | null;
  OnBuild?: string[] | null;
  [key: string]: unknown;
}

/** An image a step starts from: its ID ("" for scratch) and config. */
export interface ImageState {
  id: string;
  config: OciConfig;
}

/** RUN: a process in a new container of the parent image, as the stage's user, in its workdir, with its env. */
export interface RunWork {
  kind: 'run';
  args: string[];
  env: string[];
  user: string;
  workingDir: string;
  /** Progress text and the process's output; a promise returned is awaited (the client's stream is full). */
  progress: (chunk: Buffer | string) => void | Promise<unknown>;
}

/** COPY/ADD (and WORKDIR's directory): tar streams extracted into a new container of the parent image. */
export interface CopyWork {
  kind: 'copy';
  /** Computed against the container's root (existing directories, --chown names); none = nothing to change, the commit has no layer. */
  parts: (target: TargetRoot) => TarPart[];
}

export interface CommitStep {
  /** Parent image ID; "" = scratch. */
  parent: string;
  /** The whole config of the new image. */
  config: OciConfig;
  /** History entry ("RUN /bin/sh -c make", "ENV A=b"). */
  createdBy: string;
  /** What makes the new layer; undefined = a config-only step (empty_layer history entry). */
  work?: RunWork | CopyWork;
}

export interface BuildBackend {
  /** A local image (pulled when `pull`, or when missing); NotFound naming it otherwise. */
  resolveImage(ref: string, pull: boolean): Promise<ImageState>;
  /** The image with this ID, or null when it is gone (a cache entry of a removed image). */
  findImage(id: string): Promise<ImageState | null>;
  /**
   * Runs one step and commits its result as a new image; returns the image ID.
   * A container made for the step is removed whatever happens, so a failed
   * step leaves no container, snapshot or mount behind.
   */
  commit(step: CommitStep): Promise<string>;
  /** Runs `fn` with the root of image `id` readable (COPY --from), cleaned up after. */
  withImageRoot<T>(id: string, fn: (root: RootView) => Promise<T>): Promise<T>;
  /** The cache: step key -> image ID. */
  cacheGet(key: string): Promise<string | null>;
  cachePut(key: string, imageId: string): Promise<void>;
  /** Names the built image. */
  tag(imageId: string, references: string[]): Promise<void>;
}
