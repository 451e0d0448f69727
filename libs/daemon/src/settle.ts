// Once start-up is over, the memory it freed goes back to the kernel.
//
// A service's start (loading its modules, compiling, the images service's
// first import of busybox, the hash worker that import starts) allocates and
// frees a lot through malloc and the JS heap; glibc keeps what was freed
// below a live chunk (~10 MiB of berthd's idle RSS), and the JS garbage (the
// busybox import's buffers, 4-7 MiB) waits for a major GC that V8's memory
// reducer postpones while the machine is loaded. So, once the process is
// quiet after start-up, one full GC runs (when the process has --expose-gc,
// as NODE_FLAGS give it; 15-30 ms at berthd's heap) and then malloc_trim
// (3-7 ms idle). Once, and only when quiet: both wait on the main thread, and
// a trim after every major GC of a busy first minute cost the event loop up
// to 78 ms a wait (docs/design/services.md). Measured in
// docs/design/memory.md. @berth/sys is imported when the trim runs: every
// service has loaded it by then, and the CLI, which imports this lib for
// `berth daemon`, never loads koffi for it.
import { performance } from 'node:perf_hooks';

/** From every service SERVING to the first look at whether the process is quiet. */
export const SETTLE_MS = 12_000;
/** How often a busy process is looked at again, and the span each look measures. */
export const QUIET_CHECK_MS = 2_000;
/** Event-loop utilization over the last QUIET_CHECK_MS below which the process is quiet. */
export const QUIET_ELU = 0.05;

export type OnTrimmed = (released: boolean, ms: number) => void;

/** Schedules the one GC and trim; no timer keeps the process alive. */
export function trimWhenSettled(onTrimmed?: OnTrimmed, settleMs = SETTLE_MS, checkMs = QUIET_CHECK_MS): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let last = performance.eventLoopUtilization();
  const settle = () => {
    const t0 = process.hrtime.bigint();
    (globalThis as { gc?: () => void }).gc?.();
    void import('@berth/sys').then(({ mallocTrim }) => {
      const released = mallocTrim();
      onTrimmed?.(released, Number(process.hrtime.bigint() - t0) / 1e6);
    });
  };
  const look = () => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (busy < QUIET_ELU) settle();
    else timer = setTimeout(look, checkMs).unref();
  };
  timer = setTimeout(() => {
    last = performance.eventLoopUtilization();
    timer = setTimeout(look, checkMs).unref();
  }, Math.max(0, settleMs - checkMs)).unref();
  return { stop: () => clearTimeout(timer) };
}
