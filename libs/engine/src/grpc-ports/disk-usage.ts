// DiskUsageSource (queries/disk-usage.ts) over the layers service's Usage
// (a writable layer already gone counts 0) and the images service's Inspect
// (an image it cannot tell counts 0).
import { isNotFound } from '@berth/errors';
import type { DiskUsageSource } from '../queries/disk-usage';
import type { ServiceClients } from './index';

export function grpcDiskUsage(clients: Pick<ServiceClients, 'layers' | 'images'>): DiskUsageSource {
  return {
    writableSize: (id) => clients.layers.Usage({ key: id }).then((u) => u.size, (e: unknown) => {
      if (isNotFound(e)) return 0;
      throw e;
    }),
    imageSize: (ref) => clients.images.Inspect({ reference: ref, platform: null }).then((i) => i.size, () => 0),
  };
}
