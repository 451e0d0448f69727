// Merging the user's container config with the image's, exactly as Docker
// does (moby daemon/commit.go merge + daemon/create.go mergeAndVerifyConfig),
// and deriving the process fields (args, env, cwd) the namespaces service runs.
//
// The rules, field by field (user = the request, image = the image config):
//   User          user if set, else image
//   ExposedPorts  union
//   Env           user entries, then image entries whose KEY the user did not set
//   Labels        image labels the user did not set are added
//   Entrypoint    user entrypoint given (even [""]): keep it, and keep user Cmd
//                 as is (so `--entrypoint sh` alone runs `sh` with no image Cmd);
//                 not given: Cmd = user Cmd or image Cmd, Entrypoint = image's
//   Entrypoint [""] is then reset to none (`--entrypoint ""`)
//   WorkingDir    user if set, else image
//   Volumes       union
//   StopSignal    user if set, else image
//   Healthcheck   user's when given, each empty field taking the image's
//                 (container-config mergeHealthConfig); ["NONE"] disables it
// After merging, an empty Entrypoint and an empty Cmd is "no command specified".
import { InvalidArgumentError } from '@berth/errors';
import { posix } from 'node:path';
import { mergeHealthConfig, type HealthConfig } from '@berth/container-config';
import type { ContainerConfig } from './types';

/** The runtime part of an OCI image config (image-spec config.md "config"). */
export interface ImageConfig {
  user: string;
  exposedPorts: string[];
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  volumes: string[];
  workingDir: string;
  labels: Record<string, string>;
  stopSignal: string;
  /** HEALTHCHECK; absent = none. */
  healthcheck?: HealthConfig | null;
}

export function emptyImageConfig(): ImageConfig {
  return { user: '', exposedPorts: [], env: [], entrypoint: null, cmd: null, volumes: [], workingDir: '', labels: {}, stopSignal: '' };
}

const envKey = (e: string): string => {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
};

/** The merged config; neither input is modified. */
export function mergeConfig(user: ContainerConfig, image: ImageConfig): ContainerConfig {
  const out: ContainerConfig = { ...user, labels: { ...user.labels } };
  if (out.user === '') out.user = image.user;
  out.exposedPorts = union(user.exposedPorts, image.exposedPorts);
  if (user.env.length === 0) out.env = [...image.env];
  else {
    const keys = new Set(user.env.map(envKey));
    out.env = [...user.env, ...image.env.filter((e) => !keys.has(envKey(e)))];
  }
  for (const [k, v] of Object.entries(image.labels)) if (!(k in out.labels)) out.labels[k] = v;
  // Docker tests len(Entrypoint) == 0 for Cmd but Entrypoint == nil for the
  // entrypoint itself: an explicit [] (API callers) keeps no entrypoint but the image Cmd.
  if (!user.entrypoint || user.entrypoint.length === 0) {
    if (!user.cmd || user.cmd.length === 0) out.cmd = image.cmd ? [...image.cmd] : null;
    if (user.entrypoint === null) out.entrypoint = image.entrypoint ? [...image.entrypoint] : null;
  }
  if (out.entrypoint && out.entrypoint.length === 1 && out.entrypoint[0] === '') out.entrypoint = null;
  if (out.workingDir === '') out.workingDir = image.workingDir;
  out.volumes = union(user.volumes, image.volumes);
  if (out.stopSignal === '') out.stopSignal = image.stopSignal;
  const health = mergeHealthConfig(user.healthcheck, image.healthcheck);
  if (health) out.healthcheck = health;
  else delete out.healthcheck;
  return out;
}

function union(a: string[], b: string[]): string[] {
  const s = new Set(a);
  return [...a, ...b.filter((x) => !s.has(x))];
}

/** Docker's default PATH for Linux containers (pkg/system DefaultPathEnv). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The fields of the OCI process spec the engine derives from a merged config. */
export interface ProcessFields {
  /** argv: entrypoint ++ cmd. */
  args: string[];
  /** Final environment, "KEY=value". */
  env: string[];
  /** Absolute working directory. */
  cwd: string;
  /** The unresolved user string; resolveUser turns it into ids. */
  user: string;
}

/**
 * argv/env/cwd from a merged config. env starts from Docker's daemon defaults
 * (PATH, HOSTNAME, TERM=xterm with a tty), then config env replaces by key;
 * a bare "KEY" (no "=") removes KEY, as Docker's ReplaceOrAppendEnvValues does.
 */
export function processFields(merged: ContainerConfig, hostname: string): ProcessFields {
  const args = [...(merged.entrypoint ?? []), ...(merged.cmd ?? [])];
  if (args.length === 0) {
    throw new InvalidArgumentError(
      'no command specified: the image has no ENTRYPOINT or CMD; give a command after the image name',
      { field: 'cmd' },
    );
  }
  const env: string[] = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`];
  if (merged.tty) env.push('TERM=xterm');
  for (const e of merged.env) {
    const k = envKey(e);
    const i = env.findIndex((x) => envKey(x) === k);
    if (!e.includes('=')) {
      if (i >= 0) env.splice(i, 1);
    } else if (i >= 0) env[i] = e;
    else env.push(e);
  }
  let cwd = merged.workingDir || '/';
  // Image WORKDIR is always absolute in practice; a relative one is taken from "/".
  if (!cwd.startsWith('/')) cwd = posix.join('/', cwd);
  return { args, env, cwd: posix.normalize(cwd), user: merged.user };
}
