// The run plan: creating and starting a container as a saga across services.
//
//   resolveImage -> prepareRoot -> (prepareVolumes) -> mountRoot -> createCgroup
//     -> createProcess (paused, hosts files bound) -> attachNetwork
//     -> connectNetworks -> bindHostsResolv (fills the bound files) -> start
//
// Why this order: the process must exist (paused, before exec) to have a
// network namespace for the networks service to plumb; the hosts/resolv.conf
// files need the address the network attach assigned; only then may the
// user's program run, so it never sees a half-configured container. Each
// step's undo reverses exactly its own effect; runSaga undoes in reverse.
// `create` runs the first two steps (docker create), `start` the rest.
import { hostname as osHostname } from 'node:os';
import type { MountPoint, NetworkConnection, NetworkSettings } from './types';
import { mergeConfig, processFields } from './merge';
import type { CgroupResources, EnginePorts, PullPolicy, ResolvedImage } from './ports';
import type { SagaStep } from './saga';
import { resolveUser } from './user';
import { isPrivileged } from './security';
import { devicesOf, type DeviceNode } from './devices';
import { extraResourcesOf } from './resources';
import { portBindingsOf } from './publish-all';
import { groupAddGids, podOptionsOf } from './pod-options';
import { logBoundsOf, type ContainerConfig, type HostConfig, type IdMapping } from './types';

/** Everything the steps read and fill in. */
export interface RunContext {
  id: string;
  name: string;
  /** The request's config before the image merge. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  pull: PullPolicy;
  logPath: string;
  /** Mounts after named/anonymous volumes were resolved to host paths by the engine. */
  mounts: MountPoint[];
  /** Networks added with network connect, attached after the --network one. */
  connections?: NetworkConnection[];
  // Filled by the steps:
  image?: ResolvedImage;
  merged?: ContainerConfig;
  args?: string[];
  rootfs?: string;
  /** Set by prepareRoot: the root was mounted by this very saga (docker run), mountRoot skips. */
  rootMounted?: boolean;
  /** --userns auto: the container's host id range (allocated by Engine.create, kept in the record). */
  idMapping?: IdMapping;
  cgroupPath?: string;
  /** Device nodes for the container's /dev (devices.ts), found with the cgroup's rules. */
  deviceNodes?: DeviceNode[];
  pid?: number;
  networkSettings?: NetworkSettings;
  /** The root's /etc/passwd and /etc/group, read while the cgroup is made (createProcess resolves the user). */
  userFiles?: Promise<[string | null, string | null]>;
}

/** The container's /etc/passwd and /etc/group (null when absent), read together. */
function readUserFiles(p: EnginePorts, rootfs: string): Promise<[string | null, string | null]> {
  return Promise.all([p.rootfs.readFile(rootfs, '/etc/passwd'), p.rootfs.readFile(rootfs, '/etc/group')]);
}

const need = <T>(v: T | undefined, what: string): T => {
  if (v === undefined) throw new Error(`run plan bug: ${what} not set by an earlier step`);
  return v;
};

export function resourcesOf(h: HostConfig): CgroupResources {
  return { memory: h.memory, memorySwap: h.memorySwap, nanoCpus: h.nanoCpus, cpuShares: h.cpuShares, cpusetCpus: h.cpusetCpus, pidsLimit: h.pidsLimit, ...extraResourcesOf(h) };
}

/**
 * The hostname a container gets: --hostname, else the host's with --uts host
 * (the namespace's own, which its /etc/hostname and HOSTNAME must match, as
 * Docker's), else the first 12 hex of its id (Docker).
 */
export function hostnameOf(ctx: { id: string; config: ContainerConfig; hostConfig?: { utsMode?: string } }): string {
  if (ctx.config.hostname) return ctx.config.hostname;
  return ctx.hostConfig?.utsMode === 'host' ? osHostname() : ctx.id.slice(0, 12);
}

export function createSteps(p: EnginePorts): SagaStep<RunContext>[] {
  return [
    {
      name: 'resolveImage',
      async run(ctx) {
        const image = await p.images.resolve(ctx.config.image, ctx.pull);
        ctx.image = image;
        ctx.merged = mergeConfig(ctx.config, image.config);
        // Validates that there is a command before anything is prepared.
        ctx.args = processFields(ctx.merged, hostnameOf(ctx)).args;
        await p.images.addContainerRef(image.digest, ctx.id);
      },
      async undo(ctx) {
        if (ctx.image) await p.images.removeContainerRef(ctx.image.digest, ctx.id);
      },
    },
    {
      name: 'prepareRoot',
      async run(ctx) {
        ctx.rootfs = (await p.layers.prepare(ctx.id, need(ctx.image, 'image').layers, ctx.idMapping)).rootfs;
        ctx.rootMounted = true;
      },
      async undo(ctx) {
        await p.layers.remove(ctx.id);
      },
    },
  ];
}

export function startSteps(p: EnginePorts): SagaStep<RunContext>[] {
  return [
    {
      // The root stays mounted while the container exists (removal unmounts
      // it); this remounts it when something took it away meanwhile (a reboot).
      // A run whose prepareRoot just mounted it has nothing to do here.
      name: 'mountRoot',
      async run(ctx) {
        if (ctx.rootMounted) return;
        ctx.rootfs = (await p.layers.mount(ctx.id, ctx.idMapping)).rootfs;
      },
    },
    {
      name: 'createCgroup',
      async run(ctx) {
        // The metrics' name/image/labels (cAdvisor's), so dashboards can group by them.
        const owner = { name: ctx.name, image: ctx.config.image, labels: { ...(ctx.merged ?? ctx.config).labels } };
        // Device rules and nodes together: a bad --device fails here, before anything exists.
        const devices = devicesOf(ctx.hostConfig, isPrivileged(ctx.hostConfig));
        ctx.deviceNodes = devices.nodes;
        // The user's files are read (thread pool, bounded) during the
        // cgroups call instead of after it; createProcess awaits them.
        if (ctx.rootfs) {
          ctx.userFiles = readUserFiles(p, ctx.rootfs);
          ctx.userFiles.catch(() => undefined); // awaited (and its error thrown) by createProcess
        }
        ctx.cgroupPath = (await p.cgroups.create(ctx.id, { ...resourcesOf(ctx.hostConfig), devices: devices.rules }, owner, ctx.hostConfig.cgroupParent)).path;
      },
      async undo(ctx) {
        await p.cgroups.remove(ctx.id);
      },
    },
    {
      name: 'createProcess',
      async run(ctx) {
        const merged = need(ctx.merged, 'merged config');
        const rootfs = need(ctx.rootfs, 'rootfs');
        const fields = processFields(merged, hostnameOf(ctx));
        const [passwd, group] = await (ctx.userFiles ?? readUserFiles(p, rootfs));
        const u = resolveUser(merged.user, passwd, group);
        // HOME comes from passwd unless the config set it (Docker does the same).
        const env = fields.env.some((e) => e.startsWith('HOME=')) ? fields.env : [...fields.env, `HOME=${u.home}`];
        const h = ctx.hostConfig;
        ctx.pid = (await p.namespaces.create(ctx.id, {
          rootfs, readonlyRootfs: h.readonlyRootfs, args: fields.args, env, cwd: fields.cwd,
          uid: u.uid, gid: u.gid, additionalGids: [...new Set([...u.additionalGids, ...groupAddGids(h.groupAdd, group)])],
          // A shared UTS namespace keeps its owner's hostname.
          hostname: h.utsMode ? '' : hostnameOf(ctx), domainname: h.utsMode ? '' : merged.domainname, pod: podOptionsOf(h), ...(h.ulimits?.length ? { ulimits: h.ulimits } : {}),
          terminal: merged.tty, openStdin: merged.openStdin, cgroupPath: need(ctx.cgroupPath, 'cgroup path'),
          mounts: ctx.mounts, capAdd: h.capAdd, capDrop: h.capDrop, init: h.init, usernsMode: h.usernsMode,
          networkMode: h.networkMode, logPath: ctx.logPath, idMapping: ctx.idMapping, logBounds: logBoundsOf(h),
          securityOpt: h.securityOpt, privileged: isPrivileged(h),
          devices: ctx.deviceNodes ?? [], cgroupnsMode: h.cgroupnsMode || 'private',
        })).pid;
      },
      async undo(ctx) {
        await p.namespaces.kill(ctx.id, 'SIGKILL');
        await p.namespaces.delete(ctx.id);
      },
    },
    {
      name: 'attachNetwork',
      async run(ctx) {
        ctx.networkSettings = await p.networks.attach(ctx.id, {
          pid: need(ctx.pid, 'pid'), networkMode: ctx.hostConfig.networkMode, portBindings: portBindingsOf(ctx.hostConfig, ctx.merged),
          hostname: hostnameOf(ctx), aliases: [ctx.name, ...(ctx.hostConfig.networkAliases ?? [])],
          ...(ctx.hostConfig.ipv4Address ? { ipv4Address: ctx.hostConfig.ipv4Address } : {}),
          ...(ctx.hostConfig.macAddress ? { macAddress: ctx.hostConfig.macAddress } : {}),
        });
      },
      async undo(ctx) {
        await p.networks.detach(ctx.id);
      },
    },
    {
      // The connections network connect saved, in the order made (eth1,
      // eth2...). No undo of its own: attachNetwork's undo detaches every
      // attachment of the container, these included.
      name: 'connectNetworks',
      async run(ctx) {
        for (const c of ctx.connections ?? []) {
          const r = await p.networks.connect(ctx.id, {
            pid: need(ctx.pid, 'pid'), network: c.network, aliases: c.aliases, ip: c.ip, hostname: hostnameOf(ctx), name: ctx.name, links: c.links ?? [],
          });
          const settings = need(ctx.networkSettings, 'network settings');
          ctx.networkSettings = { ...settings, networks: { ...settings.networks, [r.network]: r.endpoint } };
        }
      },
    },
    {
      name: 'bindHostsResolv',
      async run(ctx) {
        const settings = need(ctx.networkSettings, 'network settings');
        // The files are bound in the container since createProcess (the namespaces
        // service takes mounts only at create); this fills them in place.
        const h = ctx.hostConfig;
        const dns = { servers: h.dns ?? [], search: h.dnsSearch ?? [], options: h.dnsOptions ?? [] };
        const files = await p.networks.writeHostsFiles(ctx.id, { hostname: hostnameOf(ctx), settings, networkMode: h.networkMode, dns, extraHosts: h.extraHosts ?? [] });
        ctx.networkSettings = { ...settings, ...files };
      },
      async undo(ctx) {
        // The bind mounts die with the process (undone by createProcess's undo).
        await p.networks.removeHostsFiles(ctx.id);
      },
    },
    {
      name: 'start',
      async run(ctx) {
        await p.namespaces.start(ctx.id);
      },
      async undo(ctx) {
        await p.namespaces.kill(ctx.id, 'SIGKILL');
      },
    },
  ];
}

/** docker run: create then start. */
export function runSteps(p: EnginePorts): SagaStep<RunContext>[] {
  return [...createSteps(p), ...startSteps(p)];
}
