// Every service module berthd can host, by name. Each comes from its
// service lib; berthd only composes them.
import type { ServiceModule, ServiceName } from '@berth/kit';
import { cgroupsModule } from '@berth/cgroups';
import { criModule } from '@berth/cri';
import { dockerApiModule } from '@berth/docker-api';
import { engineModule } from '@berth/engine';
import { imagesModule } from '@berth/images';
import { layersModule } from '@berth/layers';
import { namespacesModule } from '@berth/namespaces';
import { networksModule } from '@berth/networks';

/** In start order: the engine, a client of the others, after them; the gateways (Docker API, CRI), the engine's clients, last. */
export const MODULES: Record<ServiceName, ServiceModule> = {
  namespaces: namespacesModule,
  cgroups: cgroupsModule,
  layers: layersModule,
  networks: networksModule,
  images: imagesModule,
  engine: engineModule,
  'docker-api': dockerApiModule,
  cri: criModule,
};
