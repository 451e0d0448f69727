// Once start-up is over, the memory it freed goes back to the kernel.
//
// A service's start (loading its modules, compiling, the images service's
// first import of busybox, the hash worker that import starts) allocates and
// frees a lot through malloc; glibc keeps what was freed below a live chunk,
// ~10 MiB of berthd's idle RSS. V8's memory reducer shrinks the JS heap some
// 8-10 s after the last burst of allocation (later under load) and the layers
// hash worker exits 5 s after its last hash (libs/layers hashworker.ts), each
// freeing more into malloc. So SETTLE_MS after every service is SERVING one
// full GC runs (when the process has --expose-gc, as NODE_FLAGS give it: the
// memory reducer's GC waits while the machine is loaded, and the start-up
// garbage with it) and malloc_trim after it, and malloc_trim again a second
// after each major GC of the first minute; each trim costs 3-7 ms of the
// main thread, the GC 15-30 ms, once. Measured in docs/design/memory.md. @berth/sys is
// imported when a trim runs: every service has loaded it by then, and the
// CLI, which imports this lib for `berth daemon`, never loads koffi for it.
import { PerformanceObserver, constants } from 'node:perf_hooks';

/** From every service SERVING to the first trim. */
export const SETTLE_MS = 12_000;
/** How long after start-up a major GC is followed by a trim. */
export const SETTLE_WINDOW_MS = 60_000;
const AFTER_GC_MS = 1_000;

export type OnTrimmed = (released: boolean, ms: number) => void;

/** Schedules the trims of the settling window; no timer or observer keeps the process alive. */
export function trimWhenSettled(onTrimmed?: OnTrimmed, settleMs = SETTLE_MS, windowMs = SETTLE_WINDOW_MS): { stop(): void } {
  const trim = () => {
    void import('@berth/sys').then(({ mallocTrim }) => {
      const t0 = process.hrtime.bigint();
      const released = mallocTrim();
      onTrimmed?.(released, Number(process.hrtime.bigint() - t0) / 1e6);
    });
  };
  const first = setTimeout(() => {
    // Start-up garbage (the busybox import's buffers) waits for a major GC,
    // and V8's memory reducer postpones it while the machine is loaded: one
    // full GC here (15-30 ms at berthd's heap, once) when the process runs
    // with --expose-gc (NODE_FLAGS), then the trim returns what it freed.
    (globalThis as { gc?: () => void }).gc?.();
    trim();
  }, settleMs).unref();
  // A burst of major GCs (the memory reducer makes up to three) is one trim.
  let afterGc: NodeJS.Timeout | undefined;
  const gcs = new PerformanceObserver((list) => {
    const major = list.getEntries().some((e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    if (!major) return;
    if (afterGc) clearTimeout(afterGc);
    afterGc = setTimeout(trim, AFTER_GC_MS).unref();
  });
  gcs.observe({ entryTypes: ['gc'] });
  const windowEnd = setTimeout(() => gcs.disconnect(), windowMs).unref();
  return {
    stop: () => {
      gcs.disconnect();
      clearTimeout(first);
      clearTimeout(windowEnd);
      if (afterGc) clearTimeout(afterGc);
    },
  };
}
