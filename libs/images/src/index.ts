// @berth/images: image storage and distribution for berth.
//
// Local services (callable without gRPC; the handler maps RPCs 1:1 onto them):
//   ImagesLocal.open(opts)  composition root: { content, images, transfer, leases, events }
//   ContentStore            blobs by digest, resumable verified ingests
//   ImagesService           image records: list/inspect/tag/untag/remove/prune/gc
//   TransferService         pull/push/login/import/load/save/ensureBusyboxImage
// Plus references (Docker-compatible parsing), OCI/Docker document types,
// platforms, and the LayerApplier boundary to the layers service.
export * from './digest.js';
export * from './media-types.js';
export * from './reference.js';
export * from './platform.js';
export { ContentStore, ContentWriter, type ContentInfo, type IngestStatus, type WriterOptions } from './content-store.js';
export { LeaseManager, type Lease, type LeaseCreateOptions, type LeaseResource, type LeaseResourceKind } from './leases.js';
export { commitImage, type CommitRequest } from './image-commit.js';
export { ImageStore, DANGLING_PREFIX, danglingName, imageIdOf, isDanglingName, type ImageRecord } from './image-store.js';
export {
  ImagesService, type ListFilters, type ImageSummary, type ImageInspect, type LayerInfo, type RemoveResult,
} from './images-service.js';
export { TransferService } from './transfer-service.js';
export { ImagesLocal, type ImagesLocalOptions } from './local.js';
export type { PullOptions, PullProgress } from './pull.js';
export type { PushOptions, PushProgress } from './push.js';
export type { ImportOptions } from './archive/import.js';
export type { LoadOptions } from './archive/load.js';
export type { SaveOptions } from './archive/save.js';
export { buildBusyboxRootfs, type BusyboxOptions } from './archive/busybox.js';
export type { Streamed } from './progress-stream.js';
export { collectGarbage, type GcResult } from './gc.js';
export { ImageEvent, createImageEvents, type ImageEvents, type ImageEventPayload } from './events.js';
export { createImageMetrics, type ImageMetrics } from './metrics.js';
export type { LayerApplier, ApplyLayerOptions } from './layer-applier.js';
export { UnpackLayerApplier, mergeLayer } from './unpack-applier.js';
export { decompressLayer } from './compression.js';
export { AuthConfig, defaultAuthConfigPath, type Credentials } from './registry/auth-config.js';
export { RegistryClient, RegistryHosts, apiHost, isLoopbackRegistry } from './registry/client.js';
export { parseChallenges, type Challenge } from './registry/challenge.js';
export * from './wire.js';
export { imagesModule, imagesHandlers, recordToWire, type ImagesStarted, type ImagesServiceHandlers } from './service.js';
