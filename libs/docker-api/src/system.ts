// _ping, /version, /info, /events, /system/df, and the answers for what berth
// does not have (swarm, plugins, build sessions): 501 naming it.
import { existsSync, readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { InvalidArgumentError } from '@berth/errors';
import { BERTH_VERSION, type BerthPaths } from '@berth/kit';
import type { engineV1 } from '@berth/proto';
import type { Backends } from './backends';
import { listEntry, timestampParam } from './containers';
import { API_VERSION, MIN_API_VERSION, filtersParam, notImplemented, sendJson, type Router } from './http';
import { volumeDoc } from './networks';
import { containerCounts, imageFactsOf, sharedSizes } from './images';

/** The engine's event actions in Docker's words (container removal is "destroy"). */
export const DOCKER_ACTION: Record<string, string> = {
  created: 'create', started: 'start', die: 'die', oom: 'oom', paused: 'pause', unpaused: 'unpause',
  restarted: 'restart', killed: 'kill', stopped: 'stop', renamed: 'rename', removed: 'destroy', updated: 'update',
  commit: 'commit', exec_started: 'exec_start', exec_died: 'exec_die', 'archive-path': 'archive-path', 'extract-to-dir': 'extract-to-dir',
  export: 'export', health_status: 'health_status',
};

/**
 * Image, network and volume actions (the images and networks services', the
 * engine's volumes) in Docker's words. An image's "committed" is not passed
 * on: Docker reports a commit once, as the container's event.
 */
export const DOCKER_PEER_ACTION: Record<string, Record<string, string>> = {
  image: { pulled: 'pull', pushed: 'push', imported: 'import', loaded: 'load', saved: 'save', tagged: 'tag', untagged: 'untag', deleted: 'delete' },
  network: { created: 'create', removed: 'destroy', attached: 'connect', detached: 'disconnect' },
  volume: { created: 'create', removed: 'destroy', mounted: 'mount', unmounted: 'unmount' },
};

/** Docker's action -> berth's, for the event filter (the same word in every type). */
const ENGINE_ACTION: Record<string, string> = Object.fromEntries(
  [DOCKER_ACTION, ...Object.values(DOCKER_PEER_ACTION)].flatMap((m) => Object.entries(m).map(([k, v]) => [v, k])),
);

/** The event types berth has; Docker's others (daemon, plugin, swarm's) never occur. */
const BERTH_TYPES = ['container', 'image', 'network', 'volume'];

/** "docker.io/library/busybox:latest" -> "busybox:latest", as Docker names images in events. */
const familiar = (ref: string): string => ref.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ia32: 'i686', s390x: 's390x', ppc64: 'ppc64le' };
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le' };

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

/** One Docker event document; timeNano is written exactly (it does not fit a double). */
export function eventJson(ev: engineV1.Event__Output): string | undefined {
  if (ev.type && ev.type !== 'container') return peerEventJson(ev);
  const base = DOCKER_ACTION[ev.action];
  if (!base) return undefined; // "exited" follows "die" in berth; Docker has only die
  const ms = Number(ev.timeUnixMs);
  const attrs: Record<string, string> = { ...ev.attributes, name: ev.name, image: ev.image };
  // Docker's health event names the new status in the action itself: "health_status: healthy".
  const action = base === 'health_status' && attrs['health_status'] ? `health_status: ${attrs['health_status']}` : base;
  delete attrs['health_status'];
  if (attrs['exit_code'] !== undefined) {
    attrs['exitCode'] = attrs['exit_code'];
    delete attrs['exit_code'];
  }
  delete attrs['berth.docker-api.auto-remove'];
  const doc = {
    status: action, id: ev.id, from: ev.image, Type: ev.type || 'container', Action: action,
    Actor: { ID: ev.id, Attributes: attrs }, scope: 'local', time: Math.floor(ms / 1000), timeNano: 0,
  };
  return JSON.stringify(doc).replace('"timeNano":0', `"timeNano":${BigInt(ms) * 1_000_000n}`);
}

/** Image, network and volume events as Docker writes them (moby api/types/events Message). */
function peerEventJson(ev: engineV1.Event__Output): string | undefined {
  const action = DOCKER_PEER_ACTION[ev.type]?.[ev.action];
  if (!action) return undefined;
  const ms = Number(ev.timeUnixMs);
  let id = ev.id;
  const attrs: Record<string, string> = { ...ev.attributes };
  if (ev.type === 'image') {
    attrs['name'] = familiar(ev.name);
    delete attrs['digest'];
    // Pull and push name the reference; the rest the image id.
    if (action === 'pull' || action === 'push' || !id.startsWith('sha256:')) id = familiar(ev.name);
  }
  const doc = {
    // The pre-1.22 fields, which Docker still fills for images (and containers) only.
    ...(ev.type === 'image' ? { status: action, id } : {}),
    Type: ev.type, Action: action, Actor: { ID: id, Attributes: attrs }, scope: 'local', time: Math.floor(ms / 1000), timeNano: 0,
  };
  return JSON.stringify(doc).replace('"timeNano":0', `"timeNano":${BigInt(ms) * 1_000_000n}`);
}

export function registerSystem(router: Router, b: Backends, paths: BerthPaths): void {
  const ping = async (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache',
      'Docker-Experimental': 'false', Ostype: 'linux', 'Builder-Version': '1',
    });
    res.end((res.req?.method ?? 'GET') === 'HEAD' ? undefined : 'OK');
  };
  router.add('GET', '/_ping', ping);
  router.add('HEAD', '/_ping', ping);

  router.add('GET', '/version', async (_req, res) => {
    const v = await b.engine.Version({});
    const details = {
      ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: v.gitCommit, GoVersion: `node ${v.nodeVersion}`,
      Os: 'linux', Arch: GOARCH[process.arch] ?? process.arch, KernelVersion: release(), BuildTime: '',
    };
    sendJson(res, 200, {
      Platform: { Name: `berth ${v.version}` },
      Components: [{ Name: 'Engine', Version: v.version, Details: details }],
      Version: v.version, ...details,
    });
  });

  router.add('GET', '/info', async (_req, res) => {
    const [info, images] = await Promise.all([b.engine.Info({}), b.images.List({ reference: [], label: [], before: '', since: '' })]);
    sendJson(res, 200, {
      ID: hostname(), Containers: info.containers, ContainersRunning: info.containersRunning, ContainersPaused: info.containersPaused,
      ContainersStopped: info.containersStopped, Images: new Set(images.images.map((i) => i.id)).size,
      Driver: 'overlay', DriverStatus: [], Plugins: { Volume: ['local'], Network: ['bridge'], Authorization: null, Log: ['json-file', 'k8s-file'] },
      MemoryLimit: true, SwapLimit: true, KernelMemory: false, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true,
      PidsLimit: true, IPv4Forwarding: true, BridgeNfIptables: true, BridgeNfIp6tables: true, Debug: false, NFd: 0, OomKillDisable: false,
      NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: 'json-file', CgroupDriver: 'cgroupfs',
      CgroupVersion: existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1', NEventsListener: 0, KernelVersion: release(),
      OperatingSystem: osName(), OSVersion: '', OSType: 'linux', Architecture: ARCH[process.arch] ?? process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {}, Mirrors: [] },
      NCPU: cpus().length, MemTotal: totalmem(), GenericResources: null, DockerRootDir: paths.root, HttpProxy: '', HttpsProxy: '', NoProxy: '',
      Name: hostname(), Labels: [], ExperimentalBuild: false, ServerVersion: info.serverVersion || BERTH_VERSION,
      Runtimes: { berth: { path: 'berth-shim' } }, DefaultRuntime: 'berth',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true, Isolation: '', InitBinary: 'berth-init',
      ContainerdCommit: { ID: '', Expected: '' }, RuncCommit: { ID: '', Expected: '' }, InitCommit: { ID: '', Expected: '' },
      SecurityOptions: [], Warnings: [],
    });
  });

  router.add('GET', '/events', async (req, res) => {
    const q = req.query;
    const f = filtersParam(q);
    // Every type unless filtered (the engine streams containers alone when asked for no type).
    const types = f['type']?.length ? f['type'].filter((t) => BERTH_TYPES.includes(t)) : BERTH_TYPES;
    if (!types.length) {
      // Only types berth does not have (daemon, plugin, service...): nothing to stream.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      if (q.get('until')) res.end();
      return;
    }
    const filters: Record<string, engineV1.FilterValues> = { type: { values: types } };
    for (const [k, values] of Object.entries(f)) {
      if (k === 'type') continue;
      if (k === 'event') filters['event'] = { values: values.map((v) => ENGINE_ACTION[v] ?? v) };
      else if (['container', 'image', 'label', 'network', 'volume'].includes(k)) filters[k] = { values };
      else throw new InvalidArgumentError(`invalid filter '${k}' for events: berth filters container, image, network, volume, event, label and type`, { field: 'filters' });
    }
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    // Without `since`, events from the moment of the request, as Docker: the engine subscribes only
    // after the call reaches it, and a create the client sends once it has the headers may get there first.
    const since = timestampParam(q.get('since')) || (Math.floor(Date.now()) / 1000).toFixed(3);
    const call = b.engine.Events({ since, until: timestampParam(q.get('until')), filters }, { signal: ac.signal });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    try {
      for await (const ev of call as AsyncIterable<engineV1.Event__Output>) {
        const line = eventJson(ev);
        if (line) res.write(line + '\n');
      }
    } catch {
      // cancelled by the client, or the engine went away: the stream ends
    }
    res.end();
  });

  router.add('GET', '/system/df', async (_req, res) => {
    const [{ containers }, { volumes }, { images }] = await Promise.all([
      b.engine.ListContainers({ all: true, filters: {}, limit: 0, size: true }),
      b.engine.ListVolumes({ filters: {} }),
      b.images.List({ reference: [], label: [], before: '', since: '' }),
    ]);
    const now = Date.now();
    const ids = [...new Set(images.map((i) => i.id))];
    const facts = await imageFactsOf(b, ids);
    const shared = sharedSizes(facts);
    const counts = containerCounts(containers);
    const imageDocs = ids.map((id) => {
      const recs = images.filter((i) => i.id === id);
      const size = facts.get(id)?.size ?? 0;
      const tags = recs.filter((r) => !r.dangling).map((r) => r.familiarName);
      return {
        Id: id, ParentId: '', RepoTags: tags.length ? tags : ['<none>:<none>'], RepoDigests: [], Created: Number(recs[0]?.createdAt?.seconds ?? 0),
        Size: size, SharedSize: shared.get(id) ?? 0, VirtualSize: size, Labels: recs[0]?.labels ?? {}, Containers: counts.get(id) ?? 0,
      };
    });
    sendJson(res, 200, {
      LayersSize: imageDocs.reduce((a, i) => a + i.Size, 0),
      Images: imageDocs,
      Containers: containers.map((c) => listEntry(c, now, c.networks[0] ?? 'default')),
      Volumes: volumes.map((v) => ({ ...volumeDoc(v), UsageData: { Size: -1, RefCount: v.usedBy.length } })),
      BuildCache: [],
    });
  });

  const unsupported = (what: string) => async () => { throw notImplemented(what); };
  for (const p of ['/swarm', '/swarm/.*', '/nodes', '/nodes/.*', '/services', '/services/.*', '/tasks', '/tasks/.*', '/secrets', '/secrets/.*', '/configs', '/configs/.*']) {
    for (const m of ['GET', 'POST', 'DELETE']) router.add(m, p, unsupported('swarm mode'));
  }
  for (const m of ['GET', 'POST', 'DELETE']) {
    router.add(m, '/plugins', unsupported('plugins'));
    router.add(m, '/plugins/.*', unsupported('plugins'));
  }
  router.add('POST', '/session', unsupported('BuildKit sessions (image build)'));
  router.add('GET', '/distribution/.*', unsupported('registry distribution inspect'));
  router.add('GET', '/containers/(?<id>[^/]+)/attach/ws', unsupported('attach over websocket'));
}
