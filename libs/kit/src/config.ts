// Where a berth service keeps its state, sockets and metrics endpoint.
// Every path is rooted under two configurable dirs so tests (and several
// stacks) run side by side in temp roots:
//   BERTH_ROOT  state, default /var/lib/berth  (<root>/<service>/...)
//   BERTH_RUN   sockets and runtime files, default /run/berth
// Addresses of other services come from BERTH_<SERVICE>_ADDR (a comma list
// of unix:/path or host:port, round-robined by the client) and default to
// the service's unix socket under BERTH_RUN.
import { join } from 'node:path';

/** berth's version, reported by every service's info file and `berth version`. */
export const BERTH_VERSION = '0.1.0';

/**
 * The services, by the short name used in sockets, subjects and flags.
 * docker-api is the Docker Engine API gateway: besides its gRPC socket
 * (health, Status) it serves Docker's REST API on BERTH_RUN/docker.sock.
 * cri is the Kubernetes CRI (runtime.v1 RuntimeService and ImageService on
 * BERTH_RUN/cri.sock), translated onto the engine, images and networks.
 */
export const SERVICE_NAMES = ['engine', 'namespaces', 'cgroups', 'layers', 'networks', 'images', 'docker-api', 'cri'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Fully-qualified gRPC service name of each berth service. */
export const GRPC_SERVICE: Record<ServiceName, string> = {
  engine: 'berth.engine.v1.Engine',
  namespaces: 'berth.namespaces.v1.Namespaces',
  cgroups: 'berth.cgroups.v1.Cgroups',
  layers: 'berth.layers.v1.Layers',
  networks: 'berth.networks.v1.Networks',
  images: 'berth.images.v1.Images',
  'docker-api': 'berth.dockerapi.v1.DockerApi',
  cri: 'runtime.v1.RuntimeService',
};

/** Default Prometheus ports, one per service (0 in tests picks a free one). */
export const DEFAULT_METRICS_PORT: Record<ServiceName, number> = {
  engine: 9390,
  namespaces: 9391,
  cgroups: 9392,
  layers: 9393,
  networks: 9394,
  images: 9395,
  'docker-api': 9396,
  cri: 9397,
};

export interface BerthPaths {
  /** State root (BERTH_ROOT). */
  root: string;
  /** Runtime root for sockets (BERTH_RUN). */
  run: string;
}

export function berthPaths(env: NodeJS.ProcessEnv = process.env): BerthPaths {
  return { root: env.BERTH_ROOT || '/var/lib/berth', run: env.BERTH_RUN || '/run/berth' };
}

export function isServiceName(name: string): name is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(name);
}

/** The unix socket a service listens on. */
export function socketPath(service: string, paths: BerthPaths = berthPaths()): string {
  return join(paths.run, `${service}.sock`);
}

/** The state directory a service owns (no other service reads it). */
export function stateDir(service: string, paths: BerthPaths = berthPaths()): string {
  return join(paths.root, service);
}

/** The file a running service writes its pid, socket and metrics URL to. */
export function infoPath(service: string, paths: BerthPaths = berthPaths()): string {
  return join(paths.run, `${service}.json`);
}

/** BERTH_<SERVICE>_<SUFFIX>: docker-api -> BERTH_DOCKER_API_TCP. */
export const serviceEnvKey = (service: string, suffix: string): string => `BERTH_${service.toUpperCase().replace(/-/g, '_')}_${suffix}`;
const envKey = serviceEnvKey;

/** Addresses clients use to reach a service: BERTH_<SERVICE>_ADDR or its socket. */
export function serviceAddresses(service: string, env: NodeJS.ProcessEnv = process.env, paths = berthPaths(env)): string[] {
  const list = env[envKey(service, 'ADDR')];
  if (list) return list.split(',').map((s) => s.trim()).filter(Boolean);
  return [`unix:${socketPath(service, paths)}`];
}

/** Optional TCP listen address for a service (BERTH_<SERVICE>_TCP, host:port). */
export function serviceTcp(service: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[envKey(service, 'TCP')] || undefined;
}

/** Metrics listen address: BERTH_<SERVICE>_METRICS ("port" or "host:port"). */
export function metricsListen(service: string, env: NodeJS.ProcessEnv = process.env): { host: string; port: number } {
  const v = env[envKey(service, 'METRICS')];
  const dflt = isServiceName(service) ? DEFAULT_METRICS_PORT[service] : 0;
  if (!v) return { host: '127.0.0.1', port: dflt };
  const m = /^(?:(.+):)?(\d+)$/.exec(v);
  if (!m) throw new Error(`${envKey(service, 'METRICS')}=${v}: expected PORT or HOST:PORT`);
  return { host: m[1] ?? '127.0.0.1', port: Number(m[2]) };
}
