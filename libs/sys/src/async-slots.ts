// A bound on koffi calls running on libuv worker threads at once. koffi runs
// at most 64 asynchronous calls at once in the whole process and throws past
// that; each kind of call (spawns; mounts and unmounts) gets a budget of its
// own so that one kind queued deep never starves another, and their sum
// stays well under koffi's limit (netlink's send/recv use a few more).

/** Runs fn when fewer than `max` calls of this budget are in flight; later calls wait their turn, in order. */
export function asyncSlots(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (inFlight >= max) await new Promise<void>((r) => waiting.push(r));
    inFlight++;
    try {
      return await fn();
    } finally {
      inFlight--;
      waiting.shift()?.();
    }
  };
}
