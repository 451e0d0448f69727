// The networks service's vocabulary. Every type here has a twin message in
// protos/berth/networks/v1/networks.proto; the gRPC handler maps 1:1.
//
// Lifecycle of a container's networking, as the engine drives it:
//   create container (netns exists, nothing runs yet)
//     -> attach(containerId, netnsPath, mode, opts)      interfaces, address, ports, names
//     -> hostsFile / resolvConf                           files the engine bind-mounts
//   start container ... exit
//     -> detach(containerId)                              everything attach made, undone
// reconcile(existingIds) on service start undoes attachments of containers that
// no longer exist and any attach a crash interrupted.
import type { PortMapping } from './ports';

/** A network object. `bridge` networks are berth's; `cni` ones come from drop-in conflists. */
export interface Network {
  /** Unique name; `bridge` is the default network. */
  name: string;
  /** 64 hex chars, random at creation. */
  id: string;
  driver: 'bridge' | 'cni';
  /** Host bridge device (bridge driver); '' for cni networks whose conflist says otherwise. */
  bridge: string;
  /** IPv4 CIDR, e.g. 10.213.0.0/24. */
  subnet: string;
  /** Gateway address on the bridge, e.g. 10.213.0.1. */
  gateway: string;
  /** No route out of the bridge: containers reach each other and the gateway only. */
  internal: boolean;
  /** True for the default `bridge` network (no name resolution, as in Docker). */
  isDefault: boolean;
  /** Embedded DNS on the gateway answers container names (user-defined bridge networks). */
  dns: boolean;
  /** Bridge MTU; 0 = kernel default. */
  mtu: number;
  /** Extra sysctls set in each container's namespace via the CNI tuning plugin. */
  sysctls: Record<string, string>;
  /** RFC 3339 creation time. */
  created: string;
  /** User labels given at creation (docker network create --label); {} for drop-ins. */
  labels: Record<string, string>;
}

export interface CreateNetworkOptions {
  /** CIDR; chosen from the free candidate pools when omitted. */
  subnet?: string;
  /** Defaults to the first host address of the subnet. */
  gateway?: string;
  internal?: boolean;
  /** Bridge device name; default `<bridgePrefix><id prefix>`. */
  bridge?: string;
  mtu?: number;
  sysctls?: Record<string, string>;
  labels?: Record<string, string>;
}

/** How a container is networked (docker run --network). */
export type NetworkMode =
  | { kind: 'bridge'; network: string } // the default network or a named one
  | { kind: 'none' } // loopback only, up
  | { kind: 'host' } // the host's namespace: nothing to set up
  | { kind: 'container'; containerId: string }; // share another container's namespace

export interface AttachOptions {
  /** Port specs (`8080:80/tcp`) or parsed mappings; hostPort 0 = choose one. */
  ports?: (string | PortMapping)[];
  /** Extra DNS names on the network (user-defined networks only). */
  aliases?: string[];
  /** Container hostname; default the first 12 chars of the id. */
  hostname?: string;
  /** Container name; resolvable on user-defined networks. */
  name?: string;
  /** Upstream resolvers for this container (docker --dns). */
  dns?: string[];
  /**
   * A fixed IPv4 address on the network (docker --ip, network connect --ip);
   * user-defined networks only. It must be a host address of the subnet other
   * than the gateway and free: InvalidArgument / AlreadyExists otherwise.
   */
  ip?: string;
  /**
   * Container-scoped DNS aliases (docker network connect --link NAME:ALIAS):
   * this container, and only it, resolves `alias` to the address of the
   * container named `name` on this network. User-defined networks only.
   */
  links?: { name: string; alias: string }[];
  /**
   * A fixed MAC address of the interface (docker --mac-address); default
   * 02:42 + the IPv4 address. Native datapath networks only; a malformed,
   * multicast or all-zero one is InvalidArgument, one another container on
   * the network has is AlreadyExists.
   */
  mac?: string;
}

/** One container's presence on one network (or its none/host/container mode). */
export interface Attachment {
  containerId: string;
  mode: NetworkMode['kind'];
  /** Network name for bridge/cni modes; '' otherwise. */
  network: string;
  /** The network's id ('' for drop-in networks and other modes). */
  networkId: string;
  /** Interface inside the container (eth0, eth1 on a second network; lo for none). */
  interface: string;
  /** Container address without prefix; '' when it has none. */
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  /** Host end of the veth ('' for none/host/container). */
  hostInterface: string;
  /** Published ports, ephemeral host ports resolved. */
  ports: PortMapping[];
  name: string;
  hostname: string;
  aliases: string[];
  /** For mode container: whose namespace this container shares. */
  sharedWith: string;
  netnsPath: string;
}

export type NetworkEvent =
  | { type: 'network.created'; network: Network }
  | { type: 'network.removed'; network: Network }
  | { type: 'container.attached'; attachment: Attachment }
  | { type: 'container.detached'; attachment: Attachment };
