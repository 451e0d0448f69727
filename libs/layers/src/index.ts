// @berth/layers: the layers service's logic. LayerStore is the local API
// (one method per RPC of protos/berth/layers/v1/layers.proto); drivers,
// tar codec and digests are exported for tools, benchmarks and tests.
export { LayerStore, type LayerStoreOptions, type SnapshotInfo, type ApplyLayerOptions, type AppliedLayer, type DiffOptions, type DiffResult, type GcResult } from './store';
export type { SnapshotDriver, DriverName, SnapshotKind, Mount, Usage, Change, ApplyTarget } from './driver';
export { OverlayDriver, OVERLAY_OPTIONS } from './drivers/overlay';
export { CopyDriver } from './drivers/copy';
export { validateIdMapping, type IdMapping } from './idmount';
export { chooseDriver, probeOverlay, type Detection } from './detect';
export { MediaType, compressionOf, type Compression } from './mediatypes';
export { chainId, chainIds, checkDigest } from './digest';
export { applyTar, type AppliedTar } from './apply';
export { TarReader, type TarHeader, type TarSink, type TarEntryType } from '@berth/tar';
export { encodeHeader, END_OF_ARCHIVE, type TarWriteHeader } from '@berth/tar';
export { cleanEntryPath, NAME_MAX, PATH_MAX } from './paths';
export { layersModule } from './service';
