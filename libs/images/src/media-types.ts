// Media types and the JSON documents of the OCI image spec v1.1 and Docker's
// image manifest v2 schema 2. Field names are the wire names, so these types
// parse and serialise the documents directly.
import { InvalidArgumentError } from '@berth/errors';

export const MediaType = {
  OciDescriptor: 'application/vnd.oci.descriptor.v1+json',
  OciLayout: 'application/vnd.oci.layout.header.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNonDistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNonDistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Everything a registry may answer for a manifest, in our order of preference. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
];

export const isIndexType = (t: string | undefined): boolean =>
  t === MediaType.OciIndex || t === MediaType.DockerManifestList;
export const isManifestType = (t: string | undefined): boolean =>
  t === MediaType.OciManifest || t === MediaType.DockerManifest;
export const isConfigType = (t: string | undefined): boolean =>
  t === MediaType.OciConfig || t === MediaType.DockerConfig;

export type Compression = 'none' | 'gzip' | 'zstd';

/** Compression of a layer media type; undefined when it is not a layer. */
export function layerCompression(t: string): Compression | undefined {
  switch (t) {
    case MediaType.OciLayer:
    case MediaType.OciLayerNonDistributable:
    case MediaType.DockerLayer:
      return 'none';
    case MediaType.OciLayerGzip:
    case MediaType.OciLayerNonDistributableGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerForeignLayerGzip:
      return 'gzip';
    case MediaType.OciLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

/** image-spec descriptor.md: "platform" of an index entry. */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

/** image-spec descriptor.md. `size` in bytes; `digest` is the blob's content digest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

/** image-spec manifest.md and Docker schema2 (same shape). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** image-spec image-index.md and Docker manifest lists. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** image-spec config.md (Docker's image JSON is a superset). */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  variant?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object>;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

/** Parses a manifest or index blob, insisting on the fields we rely on. */
export function parseJsonDocument<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch (e) {
    throw new InvalidArgumentError(`${what} is not valid JSON: ${(e as Error).message}`, { field: what, cause: e });
  }
}

function checkDescriptor(d: unknown, what: string): void {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o.digest !== 'string' || typeof o.mediaType !== 'string' || typeof o.size !== 'number' || o.size < 0) {
    throw new InvalidArgumentError(`${what}: a descriptor needs mediaType, digest and a non-negative size`, { field: what });
  }
}

/** Parses an image manifest (OCI or Docker schema2), checking the fields pull, GC and unpack rely on. */
export function parseManifest(data: Buffer, what: string): ImageManifest {
  const m = parseJsonDocument<ImageManifest>(data, what);
  if (!m || m.schemaVersion !== 2 || !Array.isArray(m.layers)) throw new InvalidArgumentError(`${what} is not a schema 2 image manifest (needs schemaVersion 2 and layers)`, { field: what });
  checkDescriptor(m.config, `${what} config`);
  m.layers.forEach((l, i) => checkDescriptor(l, `${what} layer ${i}`));
  return m;
}

/** Parses an image index or Docker manifest list. */
export function parseIndex(data: Buffer, what: string): ImageIndex {
  const idx = parseJsonDocument<ImageIndex>(data, what);
  if (!idx || idx.schemaVersion !== 2 || !Array.isArray(idx.manifests)) throw new InvalidArgumentError(`${what} is not a schema 2 image index (needs schemaVersion 2 and manifests)`, { field: what });
  idx.manifests.forEach((m, i) => checkDescriptor(m, `${what} entry ${i}`));
  return idx;
}
