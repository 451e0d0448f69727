// TEST DOUBLES, not implementations: in-memory stand-ins for the images,
// layers, cgroups, namespaces and networks services, used to test the
// engine's ordering logic (sagas, restart, recovery) without gRPC. They record
// every call in one shared log, keep the set of live resources so a test can
// check a rollback left nothing behind, and can be told to fail a given call.
// The real adapters are grpc-ports/; the end-to-end tests run the real stack.
import { FailedPreconditionError, InternalError, NotFoundError } from '@berth/errors';
import type { EnginePorts, ExitStatus, ProcessSpec, ResolvedImage } from '../ports';
import { emptyImageConfig, type ImageConfig } from '../merge';
import { emptyNetworkSettings, type NetworkSettings } from '../types';

export interface Recorder {
  /** "service.method id" for every call, in order. */
  calls: string[];
  /** Resources currently held: "image-ref <id>", "rootfs <id>", "cgroup <id>", "process <id>", "net <id>", "hosts <id>". */
  live: Set<string>;
  /** Calls ("layers.prepare") that throw the given error once (or every time with sticky). */
  failures: Map<string, { error: Error; sticky: boolean }>;
  failOn(call: string, error?: Error, sticky?: boolean): void;
}

export interface RecordingPorts extends EnginePorts {
  rec: Recorder;
  /** Images the double knows, by ref. */
  imagesByRef: Map<string, ResolvedImage>;
  /** Specs passed to namespaces.create, by id. */
  specs: Map<string, ProcessSpec>;
  /** Files visible through the rootfs reader: path -> content. */
  rootFiles: Map<string, string>;
  /** Simulates the container's process exiting. */
  exitProcess(id: string, status: Partial<ExitStatus>): void;
  /** Requests made to images.createImage (commit). */
  createdImages: (Parameters<EnginePorts['images']['createImage']>[0] & { digest: string })[];
  /** Counters readStats returns, set by the test. */
  cgroupStats: Map<string, import('../ports').CgroupStats>;
  netCounters: Map<string, { rx: number; tx: number }>;
  /** More pids in a container's cgroup besides init. */
  extraPids: Map<string, number[]>;
  /** Finishes an exec with an exit code. */
  finishExec(execId: string, code: number): void;
  execs: Map<string, { spec: unknown; resolve?: (c: number) => void; code?: number }>;
  /** Networks the double knows (connect/inspectNetwork), by name; "bridge" is the default one. */
  knownNetworks: Map<string, import('../ports').NetworkInfo>;
  /** Pids of processes the double considers running. */
  processes: Map<string, { pid: number; running: boolean; exit: ExitStatus | null; waiters: ((s: ExitStatus) => void)[] }>;
}

export function addTestImage(p: RecordingPorts, ref: string, config: Partial<ImageConfig> = {}): ResolvedImage {
  const img: ResolvedImage = {
    ref, digest: 'sha256:' + Buffer.from(ref).toString('hex').padEnd(64, '0').slice(0, 64),
    config: { ...emptyImageConfig(), ...config }, layers: ['sha256:l1', 'sha256:l2'],
  };
  p.imagesByRef.set(ref, img);
  return img;
}

export function recordingPorts(now: () => number = Date.now): RecordingPorts {
  const rec: Recorder = {
    calls: [], live: new Set(), failures: new Map(),
    failOn(call, error = new InternalError(`injected failure in ${call}`), sticky = false) {
      this.failures.set(call, { error, sticky });
    },
  };
  const call = (name: string, id: string): void => {
    rec.calls.push(`${name} ${id}`);
    const f = rec.failures.get(name);
    if (f) {
      if (!f.sticky) rec.failures.delete(name);
      throw f.error;
    }
  };
  const imagesByRef = new Map<string, ResolvedImage>();
  const specs = new Map<string, ProcessSpec>();
  const rootFiles = new Map<string, string>();
  const processes: RecordingPorts['processes'] = new Map();
  const execs: RecordingPorts['execs'] = new Map();
  const createdImages: RecordingPorts['createdImages'] = [];
  const cgroupStats: RecordingPorts['cgroupStats'] = new Map();
  const netCounters: RecordingPorts['netCounters'] = new Map();
  const extraPids: RecordingPorts['extraPids'] = new Map();
  let nextPid = 1000;
  let connectSeq = 0;
  const knownNetworks: RecordingPorts['knownNetworks'] = new Map([
    ['bridge', { name: 'bridge', id: 'b'.repeat(64), subnet: '172.30.0.0/16', gateway: '172.30.0.1', isDefault: true, driver: 'bridge' }],
  ]);

  const ports: RecordingPorts = {
    rec, imagesByRef, specs, rootFiles, processes, execs, createdImages, cgroupStats, netCounters, extraPids, knownNetworks,
    finishExec(execId, code) {
      const e = execs.get(execId);
      if (!e) throw new NotFoundError(`no exec ${execId}`);
      e.code = code;
      e.resolve?.(code);
    },
    exitProcess(id, s) {
      const p = processes.get(id);
      if (!p) throw new NotFoundError(`no process for ${id}`);
      const status: ExitStatus = { exitCode: 0, signal: '', oomKilled: false, exitedAt: now(), ...s };
      p.running = false;
      p.exit = status;
      for (const w of p.waiters.splice(0)) w(status);
    },
    images: {
      async resolve(ref) {
        call('images.resolve', ref);
        const img = imagesByRef.get(ref);
        if (!img) throw new NotFoundError(`no such image: ${ref}`, { field: 'image' });
        return img;
      },
      async createImage(req) {
        call('images.createImage', req.containerId);
        const digest = 'sha256:' + String(imagesByRef.size + 1).padStart(64, 'c');
        createdImages.push({ ...req, digest });
        const parent = [...imagesByRef.values()].find((i) => i.digest === req.parentDigest);
        if (!parent) throw new NotFoundError(`no such image: ${req.parentDigest}`, { field: 'image' });
        if (req.reference) imagesByRef.set(req.reference, { ref: req.reference, digest, config: req.config, layers: [...parent.layers, req.layer.diffId] });
        return { digest };
      },
      async addContainerRef(d, id) {
        call('images.addContainerRef', id);
        if (![...imagesByRef.values()].some((i) => i.digest === d)) throw new NotFoundError(`no such image: ${d}`, { field: 'image' });
        rec.live.add(`image-ref ${id}`);
      },
      async removeContainerRef(_d, id) { call('images.removeContainerRef', id); rec.live.delete(`image-ref ${id}`); },
      async reconcileContainerRefs(held) {
        call('images.reconcileContainerRefs', [...held.keys()].join(','));
        for (const r of [...rec.live].filter((x) => x.startsWith('image-ref ') && !held.has(x.slice(10)))) rec.live.delete(r);
        for (const id of held.keys()) rec.live.add(`image-ref ${id}`);
      },
    },
    layers: {
      async prepare(key) { call('layers.prepare', key); rec.live.add(`rootfs ${key}`); return { rootfs: `/rootfs/${key}` }; },
      async mount(key) {
        call('layers.mount', key);
        if (!rec.live.has(`rootfs ${key}`)) throw new NotFoundError(`no writable root ${key}`, { field: 'key' });
        return { rootfs: `/rootfs/${key}` };
      },
      async diff(key) {
        call('layers.diff', key);
        if (!rec.live.has(`rootfs ${key}`)) throw new NotFoundError(`no writable root ${key}`, { field: 'key' });
        return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: 'sha256:' + 'd'.repeat(64), diffId: 'sha256:' + 'e'.repeat(64), size: 123 };
      },
      async remove(key) { call('layers.remove', key); rec.live.delete(`rootfs ${key}`); },
      async listRoots() {
        call('layers.listRoots', '');
        return [...rec.live].filter((x) => x.startsWith('rootfs ')).map((x) => x.slice(7));
      },
    },
    cgroups: {
      async create(id) { call('cgroups.create', id); rec.live.add(`cgroup ${id}`); return { path: `/sys/fs/cgroup/berth/${id}` }; },
      async remove(id) { call('cgroups.remove', id); rec.live.delete(`cgroup ${id}`); },
      async update(id) { call('cgroups.update', id); },
      async readStats(id) {
        const st = cgroupStats.get(id);
        if (!st) throw new NotFoundError(`no cgroup for ${id}`);
        return st;
      },
      async pids(id) {
        if (!rec.live.has(`cgroup ${id}`)) throw new NotFoundError(`no cgroup for ${id}`, { field: 'id' });
        const p = processes.get(id);
        return p?.running ? [p.pid, ...(extraPids.get(id) ?? [])] : [];
      },
      async freeze(id) { call('cgroups.freeze', id); },
      async thaw(id) { call('cgroups.thaw', id); },
    },
    namespaces: {
      mirrorLogs(id) { call('namespaces.mirrorLogs', id); },
      async reopenLog(id) {
        call('namespaces.reopenLog', id);
        if (!processes.get(id)?.running) throw new FailedPreconditionError(`no log of ${id} is being written`, { field: 'id' });
      },
      async create(id, spec) {
        call('namespaces.create', id);
        specs.set(id, spec);
        rec.live.add(`process ${id}`);
        const pid = nextPid++;
        processes.set(id, { pid, running: true, exit: null, waiters: [] });
        return { pid };
      },
      async start(id) { call('namespaces.start', id); },
      async kill(id, signal) {
        call('namespaces.kill', id);
        rec.calls[rec.calls.length - 1] += ` ${signal}`;
        const p = processes.get(id);
        if (p?.running && (signal === 'SIGKILL' || signal === 'SIGTERM')) {
          ports.exitProcess(id, { exitCode: signal === 'SIGKILL' ? 137 : 143, signal });
        }
      },
      async wait(id, timeoutMs) {
        call('namespaces.wait', id);
        const p = processes.get(id);
        if (!p) throw new NotFoundError(`no process for ${id}`);
        if (!p.running) return p.exit;
        return new Promise<ExitStatus | null>((resolve) => {
          const t = setTimeout(() => resolve(null), timeoutMs);
          p.waiters.push((s) => { clearTimeout(t); resolve(s); });
        });
      },
      async exec(id, execId, spec) { call('namespaces.exec', id); execs.set(execId, { spec }); return { pid: nextPid++ }; },
      async waitExec(id, execId) {
        call('namespaces.waitExec', id);
        const e = execs.get(execId);
        if (!e) throw new NotFoundError(`no exec ${execId}`);
        if (e.code !== undefined) return e.code;
        return new Promise<number>((resolve) => { e.resolve = resolve; });
      },
      async delete(id) { call('namespaces.delete', id); rec.live.delete(`process ${id}`); processes.delete(id); },
      async list() {
        return [...processes.entries()].map(([id, p]) => ({ id, pid: p.pid, running: p.running, exit: p.exit }));
      },
    },
    networks: {
      async attach(id, req): Promise<NetworkSettings> {
        call('networks.attach', id);
        rec.live.add(`net ${id}`);
        if (req.networkMode === 'none' || req.networkMode === 'host') return emptyNetworkSettings();
        return {
          ...emptyNetworkSettings(), ipAddress: '172.30.0.2', ipPrefixLen: 16, gateway: '172.30.0.1', macAddress: '02:42:ac:1e:00:02',
          ports: req.portBindings.map((b) => ({ ...b, hostPort: b.hostPort || 49153 })),
          networks: { [req.networkMode]: { networkId: 'n'.repeat(64), ipAddress: '172.30.0.2', ipPrefixLen: 16, gateway: '172.30.0.1', macAddress: '02:42:ac:1e:00:02', aliases: req.aliases } },
          sandboxKey: `/run/berth/netns/${id}`,
        };
      },
      async detach(id) {
        call('networks.detach', id);
        rec.live.delete(`net ${id}`);
        for (const k of [...rec.live]) if (k.startsWith(`net ${id} `)) rec.live.delete(k);
      },
      async connect(id, req) {
        call('networks.connect', id);
        if (!knownNetworks.has(req.network)) throw new NotFoundError(`network ${req.network} not found`, { field: 'network' });
        rec.live.add(`net ${id} ${req.network}`);
        const n = ++connectSeq;
        return {
          network: req.network,
          endpoint: {
            networkId: req.network.padEnd(64, '0'), ipAddress: req.ip || `172.31.0.${n + 1}`, ipPrefixLen: 24, gateway: '172.31.0.1',
            macAddress: '02:42:ac:1f:00:02', aliases: req.aliases, ...(req.ip ? { ipamIpv4Address: req.ip } : {}), ...(req.links.length ? { links: req.links } : {}),
          },
        };
      },
      async disconnect(id, network) { call('networks.disconnect', id); rec.live.delete(`net ${id} ${network}`); },
      async inspectNetwork(name) {
        const n = knownNetworks.get(name);
        if (!n) throw new NotFoundError(`network ${name} not found`, { field: 'network' });
        return n;
      },
      async writeHostsFiles(id) {
        call('networks.writeHostsFiles', id);
        rec.live.add(`hosts ${id}`);
        return { hostsPath: `/run/berth/${id}/hosts`, resolvConfPath: `/run/berth/${id}/resolv.conf`, hostnamePath: `/run/berth/${id}/hostname` };
      },
      async removeHostsFiles(id) { call('networks.removeHostsFiles', id); rec.live.delete(`hosts ${id}`); },
      async readCounters(id) { return netCounters.get(id) ?? { rx: 0, tx: 0 }; },
    },
    rootfs: {
      async readFile(_root, path) { return rootFiles.get(path) ?? null; },
    },
  };
  return ports;
}
