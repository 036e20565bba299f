// reconcile: PingSource ticks, rekey's own continuation events and the trigger functions' step
// requests each run one bounded step. While a migration has work right now, the step asks for a
// continuation event (the Broker redelivers it to us at once); waits for adoption are left to the
// next tick, so nothing spins.
import type { StepOutcome } from '../../shared/core/reconcile-step.ts';
import { STEP_REQUESTED } from '../hand-off.ts';

export const CONTINUATION_TYPE = 'dev.rekey.migration.slice';
/** A trigger function's request for a step (REKEY_STEP_MODE=delegate, functions/hand-off.ts). */
export const STEP_REQUEST_TYPE = `dev.rekey.${STEP_REQUESTED}`;
export const ACCEPTED_TYPES = [
  'dev.knative.sources.ping',
  CONTINUATION_TYPE,
  STEP_REQUEST_TYPE,
] as const;

export interface ReconcileFnDeps {
  provider: string;
  step(): Promise<StepOutcome>;
  continueLater(data: Record<string, unknown>): Promise<void>;
}

export type ReconcileResult = { outcome: StepOutcome; continued: boolean };

export function accepts(type: string): boolean {
  return (ACCEPTED_TYPES as readonly string[]).includes(type);
}

export async function handleReconcile(deps: ReconcileFnDeps): Promise<ReconcileResult> {
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
