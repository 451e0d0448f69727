// The networks service's gRPC layer (berth.networks.v1.Networks): maps wire
// messages onto NetworkManager and back, nothing else
// (docs/design/services.md). Typed errors thrown by the manager become gRPC
// statuses in the kit.
//
// State lives under stateDir('networks'): the manager's records, host-local
// address files (ipam/), the CNI result cache (cni-cache/) and the drop-in
// conflist dir (net.d/), so nothing of berth's lands in /var/lib/cni.
//
// Env (read once at start):
//   BERTH_DEFAULT_BRIDGE    bridge of the default network (berth0)
//   BERTH_DEFAULT_SUBNET    its subnet (first free candidate /16 when unset)
//   BERTH_BRIDGE_PREFIX     prefix of user-defined networks' bridges (berth-)
//   BERTH_CHAIN_PREFIX      prefix of berth's iptables chains (BERTH)
//   BERTH_NETWORKS_DATAPATH native | cni (native)
//   BERTH_CNI_PATH          colon list of CNI plugin dirs (/usr/lib/cni:/opt/cni/bin)
//   BERTH_CNI_CONFIG_DIR    drop-in conflists (<state>/net.d)
//   BERTH_DNS_UPSTREAMS     comma list of host[:port] the embedded DNS relays
//                           to (the host's resolv.conf nameservers)
// Tests set the first four so their bridges, subnets and chains are their own
// (bt-*, BERTH-T*) and purge() them afterwards.
//
// start() loads state and makes every network's bridge, chains and DNS exist
// again. Reconciling with the containers that still exist is not done here:
// only the engine knows them, and it calls the Reconcile RPC at its start.
//
// Events: berth.networks.network.<created|removed> and
// berth.networks.container.<attached|detached>, payload
// berth.events.v1.NetworkEvent {network, networkId, action, containerId, address}.
import { join } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';
import { subjects } from '@berth/events';
import { stateDir, type AsyncHandlers, type BerthPaths, type ServiceModule } from '@berth/kit';
import type { networksV1 } from '@berth/proto';
import type { Upstream } from './dns';
import { NetworkManager, type ContainerCounters, type NetworkManagerOptions } from './manager';
import type { PortMapping, Protocol } from './ports';
import type { Attachment, Network, NetworkEvent } from './types';

type Handlers = AsyncHandlers<networksV1.NetworksHandlers>;

function upstreamsFromEnv(text: string): Upstream[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m) throw new InvalidArgumentError(`BERTH_DNS_UPSTREAMS: "${s}" is not host[:port]`, { field: 'BERTH_DNS_UPSTREAMS' });
    return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
  });
}

/** The NetworkManager options the service runs with, from its paths and the environment. */
export function networksOptions(paths: BerthPaths, env: NodeJS.ProcessEnv = process.env): NetworkManagerOptions {
  const dir = stateDir('networks', paths);
  const datapath = env['BERTH_NETWORKS_DATAPATH'] || 'native';
  if (datapath !== 'native' && datapath !== 'cni') {
    throw new InvalidArgumentError(`BERTH_NETWORKS_DATAPATH: "${datapath}" is neither native nor cni`, { field: 'BERTH_NETWORKS_DATAPATH' });
  }
  const opts: NetworkManagerOptions = {
    stateDir: dir,
    cniCacheDir: join(dir, 'cni-cache'),
    cniConfigDir: env['BERTH_CNI_CONFIG_DIR'] || join(dir, 'net.d'),
    ipamDataDir: join(dir, 'ipam'),
    defaultNetwork: {
      bridge: env['BERTH_DEFAULT_BRIDGE'] || 'berth0',
      ...(env['BERTH_DEFAULT_SUBNET'] ? { subnet: env['BERTH_DEFAULT_SUBNET'] } : {}),
    },
    datapath,
  };
  if (env['BERTH_BRIDGE_PREFIX']) opts.bridgePrefix = env['BERTH_BRIDGE_PREFIX'];
  if (env['BERTH_CHAIN_PREFIX']) opts.chainPrefix = env['BERTH_CHAIN_PREFIX'];
  if (env['BERTH_CNI_PATH']) opts.cniPath = env['BERTH_CNI_PATH'].split(':').filter(Boolean);
  if (env['BERTH_DNS_UPSTREAMS']) opts.dnsUpstreams = upstreamsFromEnv(env['BERTH_DNS_UPSTREAMS']);
  return opts;
}

const networkToWire = (n: Network): networksV1.Network => ({ ...n, sysctls: { ...n.sysctls }, labels: { ...n.labels } });

const portToWire = (p: PortMapping): networksV1.PortMapping => ({
  hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol,
});

const attachmentToWire = (a: Attachment): networksV1.Attachment => ({ ...a, ports: a.ports.map(portToWire), aliases: [...a.aliases] });

/** "NAME:ALIAS" (AttachRequest.links) -> { name, alias }; InvalidArgument naming the entry otherwise. */
function linkFromWire(text: string): { name: string; alias: string } {
  const i = text.indexOf(':');
  const name = i < 0 ? text : text.slice(0, i);
  const alias = i < 0 ? text : text.slice(i + 1);
  if (!name || !alias) throw new InvalidArgumentError(`links: "${text}" is not NAME:ALIAS`, { field: 'links' });
  return { name, alias };
}

function portFromWire(p: networksV1.PortMapping__Output): PortMapping {
  const protocol = (p.protocol || 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw new InvalidArgumentError(`ports: protocol "${p.protocol}" is neither tcp nor udp`, { field: 'ports' });
  }
  if (p.hostPortEnd && (!p.hostPort || p.hostPortEnd < p.hostPort)) {
    throw new InvalidArgumentError(`ports: host_port_end ${p.hostPortEnd} needs a host_port at or below it (got ${p.hostPort})`, { field: 'ports' });
  }
  return { hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: protocol as Protocol, ...(p.hostPortEnd ? { hostPortEnd: p.hostPortEnd } : {}) };
}

const countersToWire = (c: ContainerCounters): networksV1.InterfaceCounters => ({
  containerId: c.containerId, name: c.name, network: c.network, ...c.counters,
});

/** NetworkEvent -> NATS subject and berth.events.v1.NetworkEvent payload. */
function eventToNats(e: NetworkEvent): { subject: string; data: Record<string, string>; id: string } {
  switch (e.type) {
    case 'network.created':
    case 'network.removed': {
      const action = e.type === 'network.created' ? 'created' : 'removed';
      return {
        subject: subjects.networksNetwork(action),
        data: { network: e.network.name, networkId: e.network.id, action, containerId: '', address: '' },
        id: e.network.name,
      };
    }
    case 'container.attached':
    case 'container.detached': {
      const action = e.type === 'container.attached' ? 'attached' : 'detached';
      const a = e.attachment;
      return {
        subject: subjects.networksContainer(action),
        data: {
          network: a.network, networkId: a.networkId, action, containerId: a.containerId,
          address: action === 'attached' && a.ip ? `${a.ip}/${a.prefixLength}` : '',
        },
        id: a.containerId,
      };
    }
  }
}

export const networksModule: ServiceModule = {
  name: 'networks',
  grpcService: 'berth.networks.v1.Networks',
  async start(ctx) {
    const manager = new NetworkManager(networksOptions(ctx.paths));
    const unsubscribe = manager.onEvent((e) => {
      const { subject, data, id } = eventToNats(e);
      ctx.events.publish(subject, data, id);
    });
    await manager.start();
    for (const w of manager.warnings) ctx.log.warn(w);
    manager.registerMetrics(ctx.registry);

    const handlers: Handlers = {
      CreateNetwork: async (req) => {
        const n = await manager.createNetwork(req.name, {
          ...(req.subnet ? { subnet: req.subnet } : {}),
          ...(req.gateway ? { gateway: req.gateway } : {}),
          ...(req.bridge ? { bridge: req.bridge } : {}),
          internal: req.internal,
          mtu: req.mtu,
          sysctls: { ...req.sysctls },
          labels: { ...req.labels },
        });
        return networkToWire(n);
      },
      ListNetworks: async () => ({ networks: manager.listNetworks().map(networkToWire) }),
      InspectNetwork: async (req) => {
        const d = manager.inspectNetwork(req.name);
        return { network: networkToWire(d.network), containers: d.containers.map(attachmentToWire) };
      },
      RemoveNetwork: async (req) => {
        await manager.removeNetwork(req.name);
        return {};
      },
      Attach: async (req) => {
        const a = await manager.attach(req.containerId, req.netnsPath, req.network, {
          ports: [...req.portSpecs, ...req.ports.map(portFromWire)],
          aliases: req.aliases,
          ...(req.hostname ? { hostname: req.hostname } : {}),
          ...(req.name ? { name: req.name } : {}),
          ...(req.dns.length ? { dns: req.dns } : {}),
          ...(req.ip ? { ip: req.ip } : {}),
          ...(req.macAddress ? { mac: req.macAddress } : {}),
          ...(req.links.length ? { links: req.links.map(linkFromWire) } : {}),
        });
        return attachmentToWire(a);
      },
      Detach: async (req) => ({ detached: (await manager.detach(req.containerId, req.network || undefined)).map(attachmentToWire) }),
      CheckAttachment: async (req) => {
        await manager.check(req.containerId);
        return {};
      },
      ListAttachments: async (req) => ({ attachments: manager.attachments(req.containerId || undefined).map(attachmentToWire) }),
      HostsFile: async (req) => ({ content: await manager.hostsFile(req.containerId) }),
      ResolvConf: async (req) => ({
        content: await manager.resolvConf(req.containerId, { dns: req.dns, dnsSearch: req.dnsSearch, dnsOptions: req.dnsOptions }),
      }),
      Stats: async (req) => ({ interfaces: (await manager.stats(req.containerId || undefined)).map(countersToWire) }),
      Reconcile: async (req) => {
        const r = await manager.reconcile(req.existingContainerIds, req.asOfMs || Date.now());
        return {
          detached: r.detached,
          rolledBack: r.rolledBack.map((x) => `${x.containerId}/${x.network}`),
          cacheSwept: r.cacheSwept,
          ipsReleased: r.ipsReleased,
          vethsDeleted: r.vethsDeleted,
          errors: r.errors,
        };
      },
    };
    return {
      handlers,
      close: async () => {
        unsubscribe();
        await manager.close();
      },
    };
  },
};
