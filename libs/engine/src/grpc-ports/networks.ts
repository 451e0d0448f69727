// NetworksPort over berth.networks.v1.Networks. The netns handle comes from
// the namespaces service's Create (shared through ContainerFiles); hosts and
// resolv.conf contents come from the service and are written into the files
// the container already has bound (see shared.ts).
import { FailedPreconditionError, isAlreadyExists, isFailedPrecondition, isNotFound, NotFoundError, type BerthError } from '@berth/errors';
import { HOST_GATEWAY, parseExtraHost, type ExtraHost } from '@berth/container-config';
import type { BerthClient } from '@berth/kit';
import type { networksV1 } from '@berth/proto';
import type { NetworksPort } from '../ports';
import type { NetworkSettings } from '../types';
import { ignoreNotFound, type ContainerFiles } from './shared';

export type NetworksClient = BerthClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>;

export function settingsFromAttachment(a: networksV1.Attachment__Output): NetworkSettings {
  return {
    ipAddress: a.ip, ipPrefixLen: a.prefixLength, gateway: a.gateway, macAddress: a.mac,
    ports: a.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol || 'tcp', hostIp: p.hostIp, hostPort: p.hostPort })),
    networks: a.network
      ? { [a.network]: { networkId: a.networkId, ipAddress: a.ip, ipPrefixLen: a.prefixLength, gateway: a.gateway, macAddress: a.mac, aliases: a.aliases } }
      : {},
    sandboxKey: a.netnsPath, hostsPath: '', resolvConfPath: '', hostnamePath: '',
  };
}

export function grpcNetworksPort(c: NetworksClient, files: ContainerFiles): NetworksPort {
  return {
    async attach(id, req) {
      const attachReq = {
        containerId: id,
        netnsPath: files.netnsPaths.get(id) ?? `/proc/${req.pid}/ns/net`,
        network: req.networkMode,
        ports: req.portBindings.map((p) => ({ hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, hostPortEnd: p.hostPortEnd ?? 0 })),
        hostname: req.hostname,
        // The first alias is the container's name (run-plan); the service resolves it on user-defined networks.
        name: req.aliases[0] ?? '',
        aliases: req.aliases.slice(1),
        ip: req.ipv4Address ?? '',
        macAddress: req.macAddress ?? '',
      };
      try {
        return settingsFromAttachment(await c.Attach(attachReq));
      } catch (e) {
        // Left by a start the engine or the networks service died in (its
        // process adopted by this one, before recovery released it): at this
        // step the container has no attachment of its own yet, so what is
        // there is that attempt's; make it again for this one. A network
        // answers AlreadyExists, a none/host/container mode FailedPrecondition.
        if (!isAlreadyExists(e) && !(isFailedPrecondition(e) && (e as BerthError).field === 'network')) throw e;
        await ignoreNotFound(c.Detach({ containerId: id }));
        return settingsFromAttachment(await c.Attach(attachReq));
      }
    },
    async detach(id) {
      await ignoreNotFound(c.Detach({ containerId: id }));
    },
    async connect(id, req) {
      const a = await c.Attach({
        containerId: id,
        netnsPath: files.netnsPaths.get(id) ?? `/proc/${req.pid}/ns/net`,
        network: req.network,
        hostname: req.hostname,
        name: req.name,
        aliases: req.aliases,
        ip: req.ip,
        links: req.links,
      });
      return {
        network: a.network,
        endpoint: {
          networkId: a.networkId, ipAddress: a.ip, ipPrefixLen: a.prefixLength, gateway: a.gateway, macAddress: a.mac,
          aliases: a.aliases, ...(req.ip ? { ipamIpv4Address: req.ip } : {}), ...(req.links.length ? { links: req.links } : {}),
        },
      };
    },
    async disconnect(id, network) {
      await ignoreNotFound(c.Detach({ containerId: id, network }));
    },
    async inspectNetwork(name) {
      const n = (await c.InspectNetwork({ name })).network;
      if (!n) throw new NotFoundError(`network ${name} not found`, { field: 'network' });
      return { name: n.name, id: n.id, subnet: n.subnet, gateway: n.gateway, isDefault: n.isDefault, driver: n.driver };
    },
    async writeHostsFiles(id, req) {
      // --add-host lines after the networks service's own; host-gateway is the default bridge's gateway.
      const extraHostLines = async (entries: string[]): Promise<string> => {
        const parsed = entries.map((e) => parseExtraHost(e)).filter((h): h is ExtraHost => !('error' in h));
        let gateway: string | undefined;
        if (parsed.some((h) => h.ip === HOST_GATEWAY)) {
          const nets = (await c.ListNetworks({})).networks;
          gateway = nets.find((n) => n.isDefault)?.gateway;
          if (!gateway) throw new FailedPreconditionError(`--add-host ...:${HOST_GATEWAY}: the default network has no gateway address to use`, { field: 'host_config.extra_hosts' });
        }
        return parsed.map((h) => `${h.ip === HOST_GATEWAY ? gateway : h.ip}\t${h.name}\n`).join('');
      };
      const p = files.paths(id);
      const [hosts, resolv, extra] = await Promise.all([c.HostsFile({ containerId: id }), c.ResolvConf({
        containerId: id, dns: req.dns?.servers ?? [], dnsSearch: req.dns?.search ?? [], dnsOptions: req.dns?.options ?? [],
      }), extraHostLines(req.extraHosts ?? [])]);
      await Promise.all([
        files.rewrite(p.hostsPath, hosts.content + extra),
        files.rewrite(p.resolvConfPath, resolv.content),
        files.rewrite(p.hostnamePath, `${req.hostname}\n`),
      ]);
      return p;
    },
    async removeHostsFiles(id) {
      await files.remove(id);
    },
    async readCounters(id) {
      try {
        const s = await c.Stats({ containerId: id });
        return s.interfaces.reduce((a, i) => ({ rx: a.rx + i.rxBytes, tx: a.tx + i.txBytes }), { rx: 0, tx: 0 });
      } catch (e) {
        if (isNotFound(e)) return { rx: 0, tx: 0 }; // none/host networking: no interfaces of its own
        throw e;
      }
    },
  };
}
