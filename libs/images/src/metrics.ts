// Prometheus metrics of the images service, registered on the registry the
// composition root passes in (so tests and several services can coexist).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ImageMetrics {
  bytesPulled: Counter;
  bytesPushed: Counter;
  pullDuration: Histogram;
  storeBytes: Gauge;
}

/** `storeSize` is called at scrape time and returns the content store's size in bytes. */
export function createImageMetrics(registry: Registry, storeSize: () => Promise<number>): ImageMetrics {
  return {
    bytesPulled: new Counter({ name: 'berth_images_pulled_bytes_total', help: 'Blob bytes downloaded from registries.', registers: [registry] }),
    bytesPushed: new Counter({ name: 'berth_images_pushed_bytes_total', help: 'Blob bytes uploaded to registries.', registers: [registry] }),
    pullDuration: new Histogram({
      name: 'berth_images_pull_duration_seconds',
      help: 'Wall time of image pulls, from resolve to the image record, including layer application.',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    storeBytes: new Gauge({
      name: 'berth_images_store_bytes',
      help: 'Bytes of committed blobs in the content store.',
      registers: [registry],
      async collect() {
        this.set(await storeSize());
      },
    }),
  };
}
