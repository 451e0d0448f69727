// Layer media types berth can apply (OCI image spec layer.md and the Docker
// image manifest v2 schema 2 names), and how each is decompressed.
import { InvalidArgumentError } from '@berth/errors';

export type Compression = 'none' | 'gzip' | 'zstd';

export const MediaType = {
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNonDist: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNonDistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNonDistZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

const COMPRESSION: Record<string, Compression> = {
  [MediaType.OciLayer]: 'none',
  [MediaType.OciLayerGzip]: 'gzip',
  [MediaType.OciLayerZstd]: 'zstd',
  [MediaType.OciLayerNonDist]: 'none',
  [MediaType.OciLayerNonDistGzip]: 'gzip',
  [MediaType.OciLayerNonDistZstd]: 'zstd',
  [MediaType.DockerLayer]: 'none',
  [MediaType.DockerLayerGzip]: 'gzip',
  [MediaType.DockerLayerZstd]: 'zstd',
  [MediaType.DockerForeignLayerGzip]: 'gzip',
};

/** The compression a layer media type implies; InvalidArgument for anything else. */
export function compressionOf(mediaType: string): Compression {
  const c = COMPRESSION[mediaType];
  if (c === undefined) {
    throw new InvalidArgumentError(
      `media type "${mediaType}" is not a layer berth can apply; expected one of ${Object.keys(COMPRESSION).join(', ')}`,
      { field: 'mediaType' },
    );
  }
  return c;
}
