// applyTar: decompress, hash (DiffID = sha256 of the uncompressed tar) and
// unpack one layer stream into a directory. The caller owns the directory:
// it is a private temp dir, removed by the caller on any error.
import type { Readable } from 'node:stream';
import { TarReader } from '@berth/tar';
import { Unpacker, type UnpackOptions } from './unpack';
import { decompressed } from './decompress';
import type { Compression } from './mediatypes';
import { OffThreadSha256 } from './hashworker';

export interface AppliedTar {
  /** "sha256:<hex>" of the uncompressed tar stream. */
  diffId: string;
  /** Bytes of uncompressed tar read. */
  size: number;
  /** Entries unpacked. */
  entries: number;
}

export async function applyTar(input: Readable, compression: Compression, opts: UnpackOptions): Promise<AppliedTar> {
  const hash = new OffThreadSha256();
  const unpacker = new Unpacker(opts);
  const reader = new TarReader(unpacker);
  let size = 0;
  try {
    for await (const chunk of decompressed(input, compression)) {
      hash.update(chunk);
      size += chunk.length;
      // After the end-of-archive marker the rest is only hashed (the DiffID
      // covers every byte of the stream, padding included).
      if (!reader.ended) reader.push(chunk);
    }
    reader.end();
    unpacker.finish();
  } catch (e) {
    unpacker.abort();
    hash.discard();
    input.destroy();
    throw e;
  }
  return { diffId: await hash.digest(), size, entries: reader.entries };
}
