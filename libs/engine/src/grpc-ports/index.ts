// The engine's ports as clients of the other berth services. One call makes
// every client and adapter; close() closes the clients.
import { createClient, type ServiceContext } from '@berth/kit';
import type { cgroupsV1, imagesV1, layersV1, namespacesV1, networksV1 } from '@berth/proto';
import { fsRootfsReader } from '../rootfs-reader';
import type { EnginePorts } from '../ports';
import { grpcCgroupsPort, type CgroupsClient } from './cgroups';
import { grpcImagesPort, type ImagesClient, type TransferClient } from './images';
import { grpcLayersPort, type ContentClient, type LayersClient } from './layers';
import { grpcNamespacesPort, type GrpcNamespacesPort, type NamespacesClient } from './namespaces';
import { grpcNetworksPort, type NetworksClient } from './networks';
import { ContainerFiles } from './shared';

export * from './shared';
export * from './cgroups';
export * from './images';
export * from './layers';
export * from './namespaces';
export * from './networks';
export * from './health-probe';

export interface ServiceClients {
  images: ImagesClient;
  transfer: TransferClient;
  content: ContentClient;
  layers: LayersClient;
  cgroups: CgroupsClient;
  namespaces: NamespacesClient;
  networks: NetworksClient;
}

export interface GrpcPorts {
  ports: EnginePorts & { namespaces: GrpcNamespacesPort };
  clients: ServiceClients;
  files: ContainerFiles;
  /** Cancels the log mirrors, then closes the clients. */
  close(): Promise<void>;
}

/** Clients of the five services (addresses from ctx) and the ports over them. */
export function createGrpcPorts(ctx: Pick<ServiceContext, 'addressesOf'>, engineStateDir: string, warn?: (msg: string) => void): GrpcPorts {
  const clients: ServiceClients = {
    images: createClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', ctx.addressesOf('images')),
    transfer: createClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>('berth.images.v1.Transfer', ctx.addressesOf('images'), { timeoutMs: 30 * 60_000 }),
    content: createClient<imagesV1.ContentDefinition, imagesV1.ContentHandlers>('berth.images.v1.Content', ctx.addressesOf('images')),
    layers: createClient<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', ctx.addressesOf('layers')),
    cgroups: createClient<cgroupsV1.CgroupsDefinition, cgroupsV1.CgroupsHandlers>('berth.cgroups.v1.Cgroups', ctx.addressesOf('cgroups')),
    namespaces: createClient<namespacesV1.NamespacesDefinition, namespacesV1.NamespacesHandlers>('berth.namespaces.v1.Namespaces', ctx.addressesOf('namespaces')),
    networks: createClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>('berth.networks.v1.Networks', ctx.addressesOf('networks')),
  };
  const files = new ContainerFiles(engineStateDir);
  const ports = {
    images: grpcImagesPort(clients.images, clients.transfer, clients.content),
    layers: grpcLayersPort(clients.layers, clients.content),
    cgroups: grpcCgroupsPort(clients.cgroups),
    namespaces: grpcNamespacesPort({ namespaces: clients.namespaces, cgroups: clients.cgroups, files, ...(warn ? { warn } : {}) }),
    networks: grpcNetworksPort(clients.networks, files),
    rootfs: fsRootfsReader,
  };
  const close = async (): Promise<void> => {
    await ports.namespaces.close();
    Object.values(clients).forEach((c) => c.close());
  };
  return { ports, clients, files, close };
}
