// A berth stack of the test's own, started and driven through the real
// `berth` CLI (apps/cli/bin/berth, from dist/), as a user runs it. Every host
// object it makes carries this run's names (cgroup parent berth-test-<tag>,
// bridge bt-c<tag>, chains BERTH-C<TAG>, its own NATS), so it collides with
// nobody and teardown removes exactly it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVICE_NAMES, createClient, serviceEnvKey, socketPath, type BerthClient, type BerthPaths } from '@berth/kit';
import { startNatsServer, type NatsServerHandle } from '@berth/events';
import { NetworkManager, networksOptions } from '@berth/networks';
import { removeCgroupParent } from '@berth/cgroups';
import type { engineV1, layersV1, namespacesV1, networksV1 } from '@berth/proto';

export const BERTH_BIN = resolve(__dirname, '..', '..', 'apps', 'cli', 'bin', 'berth');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}


export interface CliStack {
  tag: string;
  split: boolean;
  paths: BerthPaths;
  env: NodeJS.ProcessEnv;
  /** The test bridge's name (BERTH_DEFAULT_BRIDGE). */
  bridge: string;
  cgroupParent: string;
  /** Runs `berth args...`; resolves when it exits (killed after timeoutMs). */
  berth(args: string[], o?: { timeoutMs?: number; input?: string }): Promise<CliResult>;
  /** Starts `berth args...` and leaves it running (logs -f, events). */
  spawnBerth(args: string[]): { child: ChildProcess; result: Promise<CliResult>; stdout: () => string };
  engine: BerthClient<engineV1.EngineDefinition, engineV1.EngineHandlers>;
  layers: BerthClient<layersV1.LayersDefinition, layersV1.LayersHandlers>;
  namespaces: BerthClient<namespacesV1.NamespacesDefinition, namespacesV1.NamespacesHandlers>;
  networks: BerthClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>;
  /** Closes the clients (before a restart of the services they talk to) and makes new ones. */
  reconnect(): void;
  stop(): Promise<void>;
}

/** Host steps enabled for fault injection in these stacks (libs/engine/src/failpoints.ts). */
export const FAILPOINTS = 'prepareRoot,prepareVolumes,mountRoot,createCgroup,createProcess,attachNetwork,connectNetworks,bindHostsResolv,start';

/** Starts NATS and `berth daemon up [--split]` with this run's names; stop() undoes all of it. */
export async function startCliStack(split: boolean, subnetIndex: number, stackOpts: { ownNats?: boolean } = {}): Promise<CliStack> {
  const tag = randomBytes(3).toString('hex');
  // Short: the namespaces service keeps sockets under <run>/namespaces/<64-hex>/.
  const base = mkdtempSync(join(tmpdir(), 'bc-'));
  const paths: BerthPaths = { root: join(base, 'root'), run: join(base, 'run') };
  // ownNats: no NATS_URL, so daemon up starts berth's own authenticated server (libs/daemon nats.ts).
  const nats: NatsServerHandle | undefined = stackOpts.ownNats ? undefined : await startNatsServer();
  const cgroupParent = `berth-test-${tag}`;
  const bridge = `bt-c${tag}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BERTH_ROOT: paths.root,
    BERTH_RUN: paths.run,
    ...(nats ? { NATS_URL: nats.url } : {}),
    BERTH_CGROUP_PARENT: cgroupParent,
    BERTH_DEFAULT_BRIDGE: bridge,
    BERTH_DEFAULT_SUBNET: `10.219.${subnetIndex}.0/24`,
    BERTH_BRIDGE_PREFIX: `btc${tag.slice(0, 4)}-`,
    BERTH_CHAIN_PREFIX: `BERTH-C${tag.toUpperCase()}`,
    BERTH_DNS_UPSTREAMS: '127.0.0.1:9',
    BERTH_ENGINE_FAILPOINTS: FAILPOINTS,
    NO_COLOR: '1',
  };
  for (const s of SERVICE_NAMES) env[serviceEnvKey(s, 'METRICS')] = '0';
  for (const s of SERVICE_NAMES) delete env[serviceEnvKey(s, 'ADDR')];
  if (!nats) for (const k of ['NATS_URL', 'NATS_TOKEN', 'NATS_TOKEN_FILE', 'NATS_CREDS']) delete env[k];

  const spawnBerth = (args: string[], input?: string) => {
    const child = spawn(process.execPath, [BERTH_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
    const result = new Promise<CliResult>((res) => {
      child.on('close', (code, signal) => res({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    });
    return { child, result, stdout: () => stdout };
  };
  const berth = async (args: string[], o: { timeoutMs?: number; input?: string } = {}): Promise<CliResult> => {
    const r = spawnBerth(args, o.input);
    const t = setTimeout(() => r.child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    try {
      return await r.result;
    } finally {
      clearTimeout(t);
    }
  };

  const addr = (name: 'engine' | 'layers' | 'namespaces' | 'networks') => [`unix:${socketPath(name, paths)}`];
  const opts = { timeoutMs: 20_000 };
  const clients = () => ({
    engine: createClient<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', addr('engine'), opts),
    layers: createClient<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', addr('layers'), opts),
    namespaces: createClient<namespacesV1.NamespacesDefinition, namespacesV1.NamespacesHandlers>('berth.namespaces.v1.Namespaces', addr('namespaces'), opts),
    networks: createClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>('berth.networks.v1.Networks', addr('networks'), opts),
  });

  const up = await berth(['daemon', 'up', ...(split ? ['--split'] : [])], { timeoutMs: 120_000 });
  if (up.code !== 0) {
    // daemon up stopped what it started; the host objects a service made go too.
    const m = new NetworkManager(networksOptions(paths, env));
    await m.start().then(() => m.purge()).then(() => m.close()).catch(() => undefined);
    removeCgroupParent(cgroupParent);
    await nats?.stop();
    if (!mountsUnder(base).length) rmSync(base, { recursive: true, force: true });
    throw new Error(`berth daemon up failed (${up.code}): ${up.stderr}${up.stdout}`);
  }
  const stack: CliStack = {
    tag, split, paths, env, bridge, cgroupParent, berth,
    spawnBerth: (args) => spawnBerth(args),
    ...clients(),
    reconnect() {
      for (const c of [stack.engine, stack.layers, stack.namespaces, stack.networks]) c.close();
      Object.assign(stack, clients());
    },
    async stop() {
      try {
        // Containers first (they hold layer mounts, cgroups, veths), while the services run.
        const ids = await berth(['ps', '-aq', '--no-trunc'], { timeoutMs: 20_000 }).catch(() => undefined);
        for (const id of ids?.stdout.split('\n').filter(Boolean) ?? []) await berth(['rm', '-f', id], { timeoutMs: 30_000 }).catch(() => undefined);
        // Processes no engine removed (an engine that died mid-test): kill and delete them, with their namespace handles.
        const procs = await stack.namespaces.List({}).catch(() => ({ containers: [] as { id: string }[] }));
        for (const p of procs.containers) await stack.namespaces.Delete({ id: p.id, force: true }).catch(() => undefined);
        // Writable roots nobody removed (an engine killed mid-test): unmount and drop them.
        const snaps = await stack.layers.List({}).catch(() => ({ snapshots: [] as layersV1.SnapshotInfo__Output[] }));
        for (const s of snaps.snapshots) {
          if (s.kind !== 'SNAPSHOT_KIND_ACTIVE') continue;
          await stack.layers.Unmount({ key: s.key }).catch(() => undefined);
          await stack.layers.Remove({ key: s.key }).catch(() => undefined);
        }
        for (const c of [stack.engine, stack.layers, stack.namespaces, stack.networks]) c.close();
        // The services' logs outlive the stack for a post-mortem when asked (BERTH_E2E_KEEP_LOGS=dir).
        const keep = process.env['BERTH_E2E_KEEP_LOGS'];
        if (keep) cpSync(join(paths.run, 'logs'), join(keep, `${split ? 'split' : 'all-in-one'}-${tag}`), { recursive: true });
        await berth(['daemon', 'down'], { timeoutMs: 60_000 }).catch(() => undefined);
        const m = new NetworkManager(networksOptions(paths, env));
        await m.start();
        await m.purge();
        await m.close();
      } finally {
        removeCgroupParent(cgroupParent);
        await nats?.stop();
        if (!mountsUnder(base).length) rmSync(base, { recursive: true, force: true });
      }
    },
  };
  return stack;
}

/** Mount points under `dir` in this mount namespace (/proc/self/mountinfo field 5). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** Directories under the test's cgroup parent, in every v1 hierarchy (and the unified one). */
export function cgroupDirsUnder(parent: string): string[] {
  const out: string[] = [];
  const roots = existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : [];
  for (const h of roots) {
    const dir = join('/sys/fs/cgroup', h, parent);
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(join(dir, e.name));
  }
  return out.sort();
}

/** Interfaces enslaved to a bridge (/sys/class/net/<br>/brif); [] when the bridge does not exist. */
export function bridgePorts(bridge: string): string[] {
  const dir = `/sys/class/net/${bridge}/brif`;
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** The cgroup v1 directory of `pid` for `controller` ("memory", "cpu,cpuacct"...), from /proc/<pid>/cgroup. */
export function cgroupDirOf(pid: number, controller: string): string {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls?.split(',').includes(controller)) return join('/sys/fs/cgroup', controller, path ?? '');
  }
  throw new Error(`pid ${pid} has no ${controller} cgroup`);
}

/** Polls `check` until it returns a value that is not undefined, or fails after timeoutMs. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
