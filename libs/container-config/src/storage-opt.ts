// --storage-opt / HostConfig.StorageOpt: per-container options of the root
// filesystem's storage driver. Docker's overlay2 knows one, size=<bytes>, and
// takes it only where the backing filesystem is xfs mounted with pquota (an
// xfs project quota on the container's upper dir); anywhere else it refuses
// the container. berth's overlay driver sets no quota, so a size is refused
// the same way, naming the option, and any other key as Docker's overlay2
// refuses it. Nothing is created before the refusal.

/** Why these options cannot be honoured: the key at fault and the reason; undefined when there are none. */
export function checkStorageOpts(opts: Record<string, string>): { key: string; error: string } | undefined {
  for (const [key, value] of Object.entries(opts)) {
    if (key.toLowerCase() === 'size') {
      return { key, error: `--storage-opt ${key}=${value} is supported only for overlay over xfs with 'pquota' mount option (Docker's overlay2 rule); berth's overlay driver sets no disk quota, so the root filesystem cannot be limited: remove the option` };
    }
    return { key, error: `--storage-opt ${key}: unknown option for the overlay driver (overlay2 knows only size)` };
  }
  return undefined;
}
