// Decompressing layer blobs by media type. gzip runs in zlib (libuv's thread
// pool); zstd through Debian's zstd binary because Node 20's zlib has no zstd.
import { spawn } from 'node:child_process';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createHash } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError } from '@berth/errors';
import { layerCompression } from './media-types.js';

/** Returns the uncompressed tar stream of a layer blob. */
export function decompressLayer(input: Readable, mediaType: string): Readable {
  const c = layerCompression(mediaType);
  if (c === undefined) throw new InvalidArgumentError(`media type ${mediaType} is not a layer this engine can unpack`, { field: 'mediaType' });
  if (c === 'none') return input;
  if (c === 'gzip') {
    // 1 MiB output chunks: with zlib's 16 KiB default, per-chunk stream overhead
    // (hashing, the pipe to tar) costs more than inflating (measured ~2x per layer).
    const gz = createGunzip({ chunkSize: 1 << 20 });
    input.on('error', (e) => gz.destroy(e));
    return input.pipe(gz);
  }
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('error', (e) => out.destroy(new FailedPreconditionError(`zstd is needed to unpack ${mediaType} layers: ${e.message}`, { cause: e })));
  input.on('error', (e) => child.kill() && out.destroy(e));
  input.pipe(child.stdin).on('error', () => undefined);
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new InvalidArgumentError(`zstd failed to decompress a layer (exit ${code}): ${stderr.trim()}`, { field: 'layer' }));
  });
  return out;
}

/** A pass-through that hashes what flows through it (for DiffIDs). */
export class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  constructor() {
    super({ highWaterMark: 1 << 20 });
  }
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  /** sha256 digest of everything that passed; call after the stream ended. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
