// What pull, push, import, load and save share: the stores, the registry
// clients, the layer applier and the observers.
import type { BlobSources } from './blob-sources.js';
import type { ContentStore } from './content-store.js';
import type { ImageEvents } from './events.js';
import type { ImageStore } from './image-store.js';
import type { ImagesService } from './images-service.js';
import type { LayerApplier } from './layer-applier.js';
import type { LeaseManager } from './leases.js';
import type { Platform } from './media-types.js';
import type { ImageMetrics } from './metrics.js';
import type { RegistryHosts } from './registry/client.js';

export interface TransferContext {
  content: ContentStore;
  store: ImageStore;
  leases: LeaseManager;
  images: ImagesService;
  hosts: RegistryHosts;
  sources: BlobSources;
  applier: LayerApplier;
  events: ImageEvents;
  metrics: ImageMetrics | undefined;
  platform: Platform;
}
