// One bounded reconcile step, then, while the migration has work right now (a slice or the scan
// left), a continuation event: the Broker delivers it back at once, so a migration moves without
// waiting for the next tick. Waits for adoption are left to the next tick, so nothing spins
// (docs/architecture.md R5). The reconcile function runs every step this way, and so does a
// trigger function that runs its step itself (REKEY_STEP_MODE=local).
import type { MigrationSliceData } from '../ports/event-sink.ts';
import type { StepOutcome } from './reconcile-step.ts';

export interface StepAndContinueDeps {
  step(): Promise<StepOutcome>;
  /** Emits `migration.slice` for the revision that has work left. */
  continueLater(data: MigrationSliceData): Promise<void>;
}

/** The step's outcome, and whether a continuation was asked for. */
export type SteppedAndContinued = { outcome: StepOutcome; continued: boolean };

export async function stepAndContinue(deps: StepAndContinueDeps): Promise<SteppedAndContinued> {
  const outcome = await deps.step();
  const working =
    outcome.kind === 'step' &&
    outcome.more &&
    (outcome.step.kind === 'migrate' || outcome.step.kind === 'verify');
  if (working && outcome.kind === 'step') {
    await deps.continueLater({
      provider: outcome.provider,
      revision: outcome.revision,
      keyIdHash: outcome.keyIdHash,
      counts: outcome.counts,
    });
  }
  return { outcome, continued: working };
}
