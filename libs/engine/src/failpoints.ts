// Fault injection for the end-to-end tests of the run saga's rollback
// (test/cli.test.ts): some Run steps have no natural failure a test can
// provoke from outside (prepareRoot, bindHostsResolv, start), yet "a failure
// at any step leaves nothing behind" must be shown on the real stack.
//
// Two keys, both needed, so a production engine never fails on purpose:
//   - the operator enables steps at engine start:
//       BERTH_ENGINE_FAILPOINTS=prepareRoot,bindHostsResolv,start
//     (unset or empty: no failpoint, and the label below is ignored);
//   - a container opts in with the label berth.test.failpoint=<step>.
// A container whose label names an enabled step fails at that step, before
// the step runs, with an InternalError naming the step; runSaga then undoes
// the steps before it exactly as for a real failure.
import { InternalError, InvalidArgumentError } from '@berth/errors';
import type { SagaStep } from './saga';
import type { ContainerConfig } from './types';

/** The saga steps of create + start, in order (run-plan.ts, volume-mounts.ts prepareVolumes); a test keeps it in step. */
export const RUN_STEPS = [
  'resolveImage', 'prepareRoot', 'prepareVolumes', 'mountRoot', 'createCgroup', 'createProcess', 'attachNetwork', 'connectNetworks',
  'bindHostsResolv', 'start',
] as const;

/** The label a container sets to fail at an enabled step. */
export const FAILPOINT_LABEL = 'berth.test.failpoint';

export const FAILPOINTS_ENV = 'BERTH_ENGINE_FAILPOINTS';

/** "a,b" -> {a, b}; InvalidArgument naming the variable for a step that does not exist. */
export function parseFailpoints(value: string | undefined): ReadonlySet<string> {
  const names = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(RUN_STEPS as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(`${FAILPOINTS_ENV}: unknown step "${n}"; expected a comma list of ${RUN_STEPS.join(', ')}`, { field: FAILPOINTS_ENV });
    }
  }
  return new Set(names);
}

/** `steps` with the enabled failpoints armed; the same array when none is enabled. */
export function withFailpoints<C extends { config: ContainerConfig }>(steps: SagaStep<C>[], enabled: ReadonlySet<string>): SagaStep<C>[] {
  if (enabled.size === 0) return steps;
  return steps.map((step) => {
    if (!enabled.has(step.name)) return step;
    const armed: SagaStep<C> = {
      name: step.name,
      run: async (ctx) => {
        if (ctx.config.labels[FAILPOINT_LABEL] === step.name) {
          throw new InternalError(`injected failure (failpoint ${step.name}: ${FAILPOINTS_ENV} and label ${FAILPOINT_LABEL})`);
        }
        await step.run(ctx);
      },
    };
    if (step.undo) armed.undo = (ctx) => step.undo!(ctx);
    return armed;
  });
}
