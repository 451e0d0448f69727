// @berth/networks: the networks service's logic (containerd-style "local"
// half). NetworkManager's methods map 1:1 onto berth.networks.v1.Networks.
export { NetworkManager, parseNetworkMode } from './manager';
export type {
  NetworkManagerOptions, NetworkDetails, ResolvConfOptions, ContainerCounters, ReconcileReport,
} from './manager';
export type { Network, CreateNetworkOptions, NetworkMode, AttachOptions, Attachment, NetworkEvent } from './types';
export { parsePortSpec, formatPort, type PortMapping, type Protocol } from './ports';
export { CniRuntime, type CniRuntimeOptions } from './cni/runtime';
export type { CniConfList, CniPluginConf, CniResult, CniRuntimeConf } from './cni/types';
export { CADVISOR_METRICS, type InterfaceCounters } from './counters';
export { EmbeddedDns, type Upstream } from './dns';
export { removeIdleSharedChains } from './portmap-chains';
export { networksModule, networksOptions } from './service';
