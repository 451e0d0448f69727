import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { layerCompression, MediaType, parseIndex, parseManifest } from './media-types.js';

const d = { mediaType: MediaType.OciLayerGzip, digest: `sha256:${'a'.repeat(64)}`, size: 3 };
const err = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('documents', () => {
  it('accepts manifests and indexes with the fields we rely on', () => {
    const m = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { ...d, mediaType: MediaType.OciConfig }, layers: [d] })), 'm');
    expect(m.layers).toHaveLength(1);
    expect(parseIndex(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), 'i').manifests).toEqual([]);
  });
  it('rejects malformed ones naming the document', () => {
    for (const bad of ['not json', '{"schemaVersion":1,"layers":[]}', '{"schemaVersion":2,"config":{},"layers":[]}', `{"schemaVersion":2,"config":${JSON.stringify(d)},"layers":[{"digest":"x"}]}`]) {
      const e = err(() => parseManifest(Buffer.from(bad), 'manifest sha256:x'));
      expect(isInvalidArgument(e)).toBe(true);
      expect((e as Error).message).toContain('manifest sha256:x');
    }
    expect(isInvalidArgument(err(() => parseIndex(Buffer.from('{"schemaVersion":2}'), 'index')))).toBe(true);
  });
  it('knows layer compressions', () => {
    expect(layerCompression(MediaType.DockerLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.OciLayerZstd)).toBe('zstd');
    expect(layerCompression(MediaType.OciLayer)).toBe('none');
    expect(layerCompression(MediaType.OciConfig)).toBeUndefined();
  });
});
