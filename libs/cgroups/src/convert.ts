// The OCI spec's resource fields are cgroup v1 shaped; the v2 driver converts
// them the way runc (opencontainers/cgroups) does so a container gets the same
// relative treatment whichever hierarchy the host runs.

/**
 * cpu.shares (2..262144, default 1024) -> cpu.weight (1..10000, default 100).
 * runc >= 1.3 / crun >= 1.23 use a quadratic fit in log2 space that maps the
 * minimum, the default and the maximum exactly (1024 -> 100); the older linear
 * formula 1 + (s-2)*9999/262142 mapped the default 1024 to 39, starving
 * containers that asked for nothing (kubernetes#131216). 0 means unset.
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  // Round to 9 digits before ceil: floating error must not push 100.0000001 to 101.
  return Math.ceil(Number(Math.pow(10, exponent).toFixed(9)));
}

/** blkio.weight (10..1000) -> io.weight (1..10000), runc's linear map. 0 means unset. */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * OCI memory.swap (memory+swap) -> v2 memory.swap.max (swap alone), as runc's
 * ConvertMemorySwapToCgroupV2Value: -1 stays -1 ("max"), 0 stays unset, and an
 * unlimited memory with unset swap means unlimited swap. Returns undefined for
 * "do not write". Callers validate swap >= limit first.
 */
export function memorySwapToV2(swap: number | undefined, limit: number | undefined): number | undefined {
  if (limit === -1 && (swap === undefined || swap === 0)) return -1;
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return -1;
  if (limit === undefined || limit <= 0) return swap; // unlimited memory: swap as is
  return swap - limit;
}
