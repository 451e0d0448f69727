// Walking image documents: from a target descriptor to the children it
// references, and from an index to the manifest for one platform.
import { NotFoundError } from '@berth/errors';
import { MediaType, isIndexType, isManifestType, parseJsonDocument, type Descriptor, type ImageConfig, type ImageManifest, type Platform, parseManifest, parseIndex } from './media-types.js';
import { formatPlatform, platformMatches } from './platform.js';

/** Fetches a document's bytes (from the content store or a registry). */
export type FetchBytes = (desc: Descriptor) => Promise<Buffer>;

/** Descriptors a manifest or index references directly; none for other blobs. */
export function childrenOf(desc: Descriptor, data: Buffer): Descriptor[] {
  if (isIndexType(desc.mediaType)) {
    const idx = parseIndex(data, `index ${desc.digest}`);
    return [...(idx.manifests ?? [])];
  }
  if (isManifestType(desc.mediaType)) {
    const m = parseManifest(data, `manifest ${desc.digest}`);
    return [m.config, ...(m.layers ?? [])];
  }
  return [];
}

/** Guesses a document's media type from its own mediaType field or its shape. */
export function sniffMediaType(data: Buffer): string | undefined {
  try {
    const j = JSON.parse(data.toString('utf8')) as { mediaType?: string; manifests?: unknown; config?: unknown; layers?: unknown };
    if (j.mediaType) return j.mediaType;
    if (Array.isArray(j.manifests)) return MediaType.OciIndex;
    if (j.config && Array.isArray(j.layers)) return MediaType.OciManifest;
  } catch {
    /* not JSON: a layer or other blob */
  }
  return undefined;
}

export interface ResolvedImage {
  /** The platform manifest's descriptor (equal to the target for single-manifest images). */
  manifestDesc: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  configDesc: Descriptor;
}

/**
 * Picks the manifest for `platform` (following nested indexes) and loads it
 * and its config. NotFound names the platforms the index does offer.
 */
export async function resolveManifest(target: Descriptor, platform: Platform, fetch: FetchBytes, what: string): Promise<ResolvedImage> {
  let desc = target;
  for (let depth = 0; depth < 4; depth++) {
    const data = await fetch(desc);
    if (isIndexType(desc.mediaType)) {
      const idx = parseIndex(data, `index ${desc.digest}`);
      const candidates = (idx.manifests ?? []).filter((m) => isManifestType(m.mediaType) || isIndexType(m.mediaType));
      // Attestation manifests (buildkit's "unknown/unknown") never match a real platform.
      const pick = candidates.find((m) => platformMatches(platform, m.platform));
      if (!pick) {
        const offered = candidates.map((m) => (m.platform ? formatPlatform(m.platform) : '?')).join(', ');
        throw new NotFoundError(`${what} has no manifest for platform ${formatPlatform(platform)} (it offers: ${offered || 'none'})`, { field: 'platform' });
      }
      desc = pick;
      continue;
    }
    if (!isManifestType(desc.mediaType)) {
      throw new NotFoundError(`${what}: ${desc.digest} has media type ${desc.mediaType}, not an image manifest or index`, { field: 'mediaType' });
    }
    const manifest = parseManifest(data, `manifest ${desc.digest}`);
    const config = parseJsonDocument<ImageConfig>(await fetch(manifest.config), `config ${manifest.config.digest}`);
    return { manifestDesc: desc, manifest, config, configDesc: manifest.config };
  }
  throw new NotFoundError(`${what}: indexes nested too deeply`, { field: 'mediaType' });
}
