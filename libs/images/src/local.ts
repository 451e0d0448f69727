// Composition of the images service's local API: the content store, the
// image records, leases, GC and the transfer service over one root
// directory. The gRPC handler (service.ts) holds one ImagesLocal and maps
// RPCs onto `content`, `images` and `transfer`.
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { BlobSources } from './blob-sources.js';
import { ContentStore } from './content-store.js';
import { createImageEvents, type ImageEvents } from './events.js';
import { ImageStore } from './image-store.js';
import { ImagesService } from './images-service.js';
import type { LayerApplier } from './layer-applier.js';
import { LeaseManager } from './leases.js';
import type { Platform } from './media-types.js';
import { openMetadata, type Db } from './metadata.js';
import { createImageMetrics } from './metrics.js';
import { hostPlatform } from './platform.js';
import { AuthConfig } from './registry/auth-config.js';
import { RegistryHosts } from './registry/client.js';
import { TransferService } from './transfer-service.js';

export interface ImagesLocalOptions {
  /** State directory (e.g. /var/lib/berth/images): meta.db, blobs/, ingest/. */
  root: string;
  /** Where pull/load/import put layers (the layers service). */
  layerApplier: LayerApplier;
  /** Default platform for multi-platform images (default: the host's). */
  platform?: Platform;
  /** prom-client registry to register metrics on (none: no metrics). */
  metricsRegistry?: Registry;
  /** Credentials file (default ${BERTH_CONFIG:-~/.config/berth/auth.json}). */
  authConfigPath?: string;
  /** Registries allowed over plain HTTP besides localhost and 127.0.0.0/8. */
  insecureRegistries?: string[];
  /** Registry host configuration (hosts.toml per registry; default $BERTH_REGISTRY_CONFIG or /etc/berth/certs.d). */
  registryConfigDir?: string;
}

export class ImagesLocal {
  private constructor(
    readonly content: ContentStore,
    readonly leases: LeaseManager,
    readonly images: ImagesService,
    readonly transfer: TransferService,
    readonly events: ImageEvents,
    private readonly db: Db,
  ) {}

  static async open(opts: ImagesLocalOptions): Promise<ImagesLocal> {
    const db = openMetadata(join(opts.root, 'meta.db'));
    const leases = new LeaseManager(db);
    const content = new ContentStore(opts.root, leases);
    await content.init();
    const store = new ImageStore(db);
    const events = createImageEvents();
    const platform = opts.platform ?? hostPlatform();
    const images = new ImagesService(content, store, leases, events, platform, opts.layerApplier);
    const metrics = opts.metricsRegistry
      ? createImageMetrics(opts.metricsRegistry, async () => (await content.list()).reduce((a, b) => a + b.size, 0))
      : undefined;
    const authConfig = new AuthConfig(opts.authConfigPath);
    const insecure = opts.insecureRegistries ?? [];
    const hosts = new RegistryHosts({ authConfig, insecureRegistries: insecure, ...(opts.registryConfigDir ? { hostsDir: opts.registryConfigDir } : {}) });
    const transfer = new TransferService(
      { content, store, leases, images, hosts, sources: new BlobSources(db), applier: opts.layerApplier, events, metrics, platform },
      authConfig,
      insecure,
      opts.registryConfigDir,
    );
    return new ImagesLocal(content, leases, images, transfer, events, db);
  }

  close(): void {
    this.db.close();
  }
}
