// Digests as the OCI image spec defines them (descriptor.md, "Digests"):
// `algorithm ":" encoded`. berth writes sha256 only; sha384/sha512 are
// recognised when parsing references (Docker does the same) but blobs are
// always addressed by sha256 in the content store.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@berth/errors';

export type Digest = `sha256:${string}` | `sha384:${string}` | `sha512:${string}`;

/** Hex length of each registered algorithm (go-digest's registry). */
const ENCODED_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Reasons digest validation can fail, worded after go-digest's errors. */
export type DigestProblem = 'invalid checksum digest format' | 'unsupported digest algorithm' | 'invalid checksum digest length';

/** Why `s` is not a valid digest, or undefined when it is one. */
export function digestProblem(s: string): DigestProblem | undefined {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 >= s.length) return 'invalid checksum digest format';
  const alg = s.slice(0, i);
  const enc = s.slice(i + 1);
  if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(alg)) return 'invalid checksum digest format';
  const want = ENCODED_LENGTH[alg];
  if (want === undefined) return 'unsupported digest algorithm';
  if (enc.length !== want) return 'invalid checksum digest length';
  if (!/^[a-f0-9]+$/.test(enc)) return 'invalid checksum digest format';
  return undefined;
}

/** Validates and returns a digest; InvalidArgument naming `field` otherwise. */
export function parseDigest(s: string, field = 'digest'): Digest {
  const p = digestProblem(s);
  if (p) throw new InvalidArgumentError(`${field} ${JSON.stringify(s)}: ${p}`, { field });
  return s as Digest;
}

/** True for a well-formed sha256 digest, the only kind the content store holds. */
export function isSha256Digest(s: string): s is `sha256:${string}` {
  return /^sha256:[a-f0-9]{64}$/.test(s);
}

export function sha256Digest(data: Buffer | string): `sha256:${string}` {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The encoded part ("abc..." of "sha256:abc..."). */
export function digestHex(d: string): string {
  const i = d.indexOf(':');
  return i < 0 ? d : d.slice(i + 1);
}

/**
 * ChainID of a layer stack (image-spec config.md "Layer ChainID"):
 * ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : sha256Digest(`${prev} ${d}`));
  }
  return out;
}
