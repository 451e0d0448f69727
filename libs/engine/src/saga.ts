// A saga: ordered steps, each with an undo. When step N fails, steps N-1..1
// are undone in reverse order; undo failures are collected and reported with
// the original error, which is never masked (the caller sees its kind).
import { BerthError, errorCode, isBerthError } from '@berth/errors';

export interface SagaStep<C> {
  /** Stable name used in errors and logs ("prepareRoot"). */
  name: string;
  run(ctx: C): Promise<void>;
  /** Reverses run; must tolerate partial effects. Omitted when run has no effect to undo. */
  undo?(ctx: C): Promise<void>;
}

export interface UndoFailure {
  step: string;
  error: unknown;
}

/**
 * The error a failed saga throws: same kind (code) and field as the step's
 * error, message prefixed with the step, `cause` the original error.
 */
export class SagaError extends BerthError {
  readonly step: string;
  readonly undoFailures: UndoFailure[];
  constructor(step: string, original: unknown, undoFailures: UndoFailure[]) {
    const msg = original instanceof Error ? original.message : String(original);
    const undo = undoFailures.length === 0
      ? ''
      : `; rollback also failed at ${undoFailures.map((u) => `${u.step} (${u.error instanceof Error ? u.error.message : String(u.error)})`).join(', ')}`;
    super(errorCode(original), `${step}: ${msg}${undo}`, {
      cause: original,
      field: isBerthError(original) ? original.field : undefined,
      errno: isBerthError(original) ? original.errno : undefined,
    });
    this.step = step;
    this.undoFailures = undoFailures;
  }
}

export interface SagaHooks {
  onRun?(step: string): void;
  onUndo?(step: string): void;
  /** A step's run finished (ok or not) after `seconds` (wall clock): the run path's step histogram. */
  onTimed?(step: string, seconds: number, ok: boolean): void;
}

/** Runs `steps` in order; on failure undoes the completed ones in reverse and throws SagaError. */
export async function runSaga<C>(steps: readonly SagaStep<C>[], ctx: C, hooks: SagaHooks = {}): Promise<void> {
  const done: SagaStep<C>[] = [];
  for (const step of steps) {
    const t0 = hooks.onTimed ? performance.now() : 0;
    try {
      hooks.onRun?.(step.name);
      await step.run(ctx);
      hooks.onTimed?.(step.name, (performance.now() - t0) / 1000, true);
      done.push(step);
    } catch (e) {
      hooks.onTimed?.(step.name, (performance.now() - t0) / 1000, false);
      const undoFailures: UndoFailure[] = [];
      for (const prev of done.reverse()) {
        if (!prev.undo) continue;
        try {
          hooks.onUndo?.(prev.name);
          await prev.undo(ctx);
        } catch (ue) {
          undoFailures.push({ step: prev.name, error: ue });
        }
      }
      throw new SagaError(step.name, e, undoFailures);
    }
  }
}
