// Digests of the OCI image spec (config.md "Layer ChainID"):
//   ChainID(L0) = DiffID(L0)
//   ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))
// where a DiffID is the sha256 of a layer's uncompressed tar.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@berth/errors';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Throws InvalidArgument naming `field` unless `d` is "sha256:<64 lowercase hex>". */
export function checkDigest(d: string, field: string): string {
  if (!DIGEST.test(d)) throw new InvalidArgumentError(`${field} "${d}" is not a sha256 digest ("sha256:" and 64 lowercase hex digits)`, { field });
  return d;
}

/** The chain ID of a layer with DiffID `diffId` on the chain `parentChainId` (null: base layer). */
export function chainId(parentChainId: string | null, diffId: string): string {
  if (parentChainId === null) return diffId;
  return `sha256:${createHash('sha256').update(`${parentChainId} ${diffId}`).digest('hex')}`;
}

/** Chain IDs of every prefix of a list of DiffIDs (base first). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  let prev: string | null = null;
  for (const d of diffIds) {
    prev = chainId(prev, d);
    out.push(prev);
  }
  return out;
}
