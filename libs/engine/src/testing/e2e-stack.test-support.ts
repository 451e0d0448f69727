// The engine's end-to-end tests' stack: the services a test file names,
// started in this process through their real gRPC servers
// (docs/design/services.md), with this run's own names for everything it
// makes on the host — cgroup parent berth-test-<tag>, bridges bt<letter><tag>,
// chains BERTH-<LETTER><TAG>, a 10.219.x.0/24 default subnet no route covers,
// its own NATS and state dirs — all removed in afterAll, even after a
// failure. Test-only (excluded from the lib's build and lint: it starts the
// other services' modules, which the engine itself never imports).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { removeCgroupParent } from '@berth/cgroups';
import { runServices, type RunningStack } from '@berth/daemon';
import { isNotFound } from '@berth/errors';
import { startNatsServer, waitForEventsStream, type NatsServerHandle } from '@berth/events';
import { createClient, socketPath, tempPaths, type BerthClient, type ServiceModule, type TempPaths } from '@berth/kit';
import { NetworkManager, networksOptions } from '@berth/networks';
import type { engineV1, imagesV1, layersV1 } from '@berth/proto';

const ENV_KEYS = ['BERTH_CGROUP_PARENT', 'BERTH_DEFAULT_BRIDGE', 'BERTH_DEFAULT_SUBNET', 'BERTH_BRIDGE_PREFIX', 'BERTH_CHAIN_PREFIX', 'BERTH_DNS_UPSTREAMS', 'NATS_URL'] as const;

export interface E2eStackOptions {
  /** One lower-case letter in this file's host objects' names (bt<letter><tag>, BERTH-<LETTER><TAG>). */
  letter: string;
  /**
   * Third octets of the 10.219.x.0/24 subnets the default network may use:
   * the first no route on this machine covers is taken (another run of the
   * same file, or another file, may be live).
   */
  subnets: number[];
  /**
   * State dirs searchable by others: with --userns auto the container's root
   * is an unprivileged host id, and the shim binds the rootfs and the
   * engine's files as it (docs/design/engine.md, User namespaces).
   */
  searchableState?: boolean;
}

export interface E2eStack {
  tag: string;
  /** The names the stack's services were given. */
  names: { cgroupParent: string; defaultBridge: string; defaultSubnet: string; bridgePrefix: string; chainPrefix: string };
  paths: TempPaths;
  stack: RunningStack | undefined;
  nats: NatsServerHandle | undefined;
  /** A client of `service` on the socket of service `name` (closed by the caller). */
  client<D, H>(service: string, name: string): BerthClient<D, H>;
  /** busybox:latest, which the images service makes from the host's busybox-static at its start. */
  busybox(): Promise<imagesV1.Image__Output>;
}

/** A free 10.219.x.0/24 from `octets`, starting at one picked by `tag`. */
function freeSubnet(octets: number[], tag: string): string {
  const routes = execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' });
  const start = parseInt(tag, 16) % octets.length;
  for (let i = 0; i < octets.length; i++) {
    const x = octets[(start + i) % octets.length]!;
    if (!routes.includes(`10.219.${x}.`)) return `10.219.${x}.0/24`;
  }
  throw new Error(`10.219.{${octets.join(',')}}.0/24 are all routed: other runs of these tests are live; try again later`);
}

/** Registers beforeAll/afterAll that start `modules` on the test's own names and tear everything down. */
export function useE2eStack(modules: () => Promise<ServiceModule[]>, opts: E2eStackOptions): E2eStack {
  const tag = randomBytes(3).toString('hex');
  const saved: Partial<Record<(typeof ENV_KEYS)[number], string | undefined>> = {};
  const s: E2eStack = {
    tag,
    names: {
      cgroupParent: `berth-test-${tag}`,
      defaultBridge: `bt${opts.letter}${tag}`,
      defaultSubnet: '',
      bridgePrefix: `bt${opts.letter}${tag.slice(0, 4)}-`,
      chainPrefix: `BERTH-${opts.letter.toUpperCase()}${tag.toUpperCase()}`,
    },
    paths: undefined as unknown as TempPaths,
    stack: undefined,
    nats: undefined,
    client: <D, H>(service: string, name: string) => createClient<D, H>(service, [`unix:${socketPath(name, s.paths)}`], { timeoutMs: 60_000 }),
    busybox: async () => {
      const images = s.client<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', 'images');
      try {
        for (let deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
          try {
            return await images.Get({ reference: 'busybox:latest' });
          } catch (e) {
            if (!isNotFound(e) || Date.now() > deadline) throw e;
          }
        }
      } finally {
        images.close();
      }
    },
  };

  beforeAll(async () => {
    for (const k of ENV_KEYS) saved[k] = process.env[k];
    s.names.defaultSubnet = freeSubnet(opts.subnets, tag);
    process.env['BERTH_CGROUP_PARENT'] = s.names.cgroupParent;
    process.env['BERTH_DEFAULT_BRIDGE'] = s.names.defaultBridge;
    process.env['BERTH_DEFAULT_SUBNET'] = s.names.defaultSubnet;
    process.env['BERTH_BRIDGE_PREFIX'] = s.names.bridgePrefix;
    process.env['BERTH_CHAIN_PREFIX'] = s.names.chainPrefix;
    process.env['BERTH_DNS_UPSTREAMS'] = '127.0.0.1:9';
    s.nats = await startNatsServer();
    process.env['NATS_URL'] = s.nats.url;
    // The run dir is short: the namespaces service's monitor keeps a unix
    // socket in <run>/namespaces/<64-hex id>/ (that dir at most 95 bytes).
    const root = tempPaths();
    const run = mkdtempSync(join(tmpdir(), 'berth-'));
    s.paths = { root: root.root, run, cleanup: () => { root.cleanup(); rmSync(run, { recursive: true, force: true }); } };
    if (opts.searchableState) {
      chmodSync(dirname(root.root), 0o711);
      mkdirSync(root.root, { recursive: true, mode: 0o711 });
      chmodSync(run, 0o711);
    }
    s.stack = await runServices(await modules(), { paths: s.paths, natsUrl: s.nats.url, metrics: () => ({ host: '127.0.0.1', port: 0 }) });
    await waitForEventsStream(s.nats.url);
  }, 60_000);

  afterAll(async () => {
    try {
      if (s.stack) {
        // Containers a failed test left behind hold mounts and veths: remove them while the services run.
        const engine = s.client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
        try {
          for (const c of (await engine.ListContainers({ all: true }).catch(() => ({ containers: [] }))).containers) {
            await engine.RemoveContainer({ id: c.id, force: true, removeVolumes: true }).catch(() => undefined);
          }
        } finally {
          engine.close();
        }
        // And writable roots no engine removed (the engine was down): unmount and drop them.
        const layers = s.client<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', 'layers');
        try {
          for (const snap of (await layers.List({}).catch(() => ({ snapshots: [] }))).snapshots) {
            if (snap.kind !== 'SNAPSHOT_KIND_ACTIVE') continue;
            await layers.Unmount({ key: snap.key }).catch(() => undefined);
            await layers.Remove({ key: snap.key }).catch(() => undefined);
          }
        } finally {
          layers.close();
        }
      }
      await s.stack?.stop();
      if (s.paths) {
        const m = new NetworkManager(networksOptions(s.paths));
        await m.start();
        await m.purge();
        await m.close();
      }
    } finally {
      removeCgroupParent(s.names.cgroupParent);
      for (const k of ENV_KEYS) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await s.nats?.stop();
      s.paths?.cleanup();
    }
  }, 60_000);
  return s;
}
