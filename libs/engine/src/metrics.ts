// The engine's own Prometheus series (the gRPC ones come from the service kit).
import { Histogram, type Registry } from 'prom-client';

/**
 * berth_engine_run_step_seconds{step}: wall time of each step of the run path
 * (resolveImage, prepareRoot, prepareVolumes, createCgroup, createProcess,
 * attachNetwork, bindHostsResolv, start, exitNotify, releaseRuntime, remove).
 * Buckets are fine-grained below 50 ms: a warm `run busybox true` is tens of ms
 * in all, and the point is to see which step moved.
 */
export function runStepHistogram(registry: Registry): Histogram<'step'> {
  return new Histogram({
    name: 'berth_engine_run_step_seconds',
    help: 'Wall time of each step of a container run (saga steps, exit notification, release, removal).',
    labelNames: ['step'],
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}
