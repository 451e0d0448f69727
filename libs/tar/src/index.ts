// @berth/tar: the tar codec shared by the layers service (layer apply/diff)
// and the engine (docker cp). A synchronous push reader (ustar, GNU, PAX,
// sparse) and a deterministic header encoder (ustar + PAX records).
export { TarReader, parsePax, type TarHeader, type TarSink, type TarEntryType, type SparseSegment } from './reader';
export { encodeHeader, padding, END_OF_ARCHIVE, type TarWriteHeader } from './writer';
export { RootView, type ViewMount } from './root-view';
export { packTree } from './pack';
export { extractTar, entryTarget, type ExtractOptions, type ExtractResult } from './extract';
export {
  prepareArchiveCopy, splitPathDirEntry, preserveTrailingDotOrSeparator, containerAbsPath, rebaseForLink, rebaseEntryName,
  hasTrailingSeparator, specifiesCurrentDir, assertsDirectory, type CopyInfo, type ArchiveCopyPlan,
} from './copy-rules';
