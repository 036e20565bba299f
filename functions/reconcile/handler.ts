// reconcile: PingSource ticks, rekey's own continuation events and the trigger functions' step
// requests each run one bounded step. While a migration has work right now, the step asks for a
// continuation event (the Broker redelivers it to us at once); waits for adoption are left to the
// next tick, so nothing spins (shared/core/step-and-continue.ts).
import {
  type StepAndContinueDeps,
  type SteppedAndContinued,
  stepAndContinue,
} from '../../shared/core/step-and-continue.ts';
import { rekeyType } from '../../shared/ports/event-sink.ts';

export const CONTINUATION_TYPE = rekeyType('migration.slice');
/** A trigger function's request for a step (REKEY_STEP_MODE=delegate, shared/app/hand-off.ts). */
export const STEP_REQUEST_TYPE = rekeyType('step.requested');
export const ACCEPTED_TYPES = [
  'dev.knative.sources.ping',
  CONTINUATION_TYPE,
  STEP_REQUEST_TYPE,
] as const;

export interface ReconcileFnDeps extends StepAndContinueDeps {
  provider: string;
}

export type ReconcileResult = SteppedAndContinued;

export function accepts(type: string): boolean {
  return (ACCEPTED_TYPES as readonly string[]).includes(type);
}

export function handleReconcile(deps: ReconcileFnDeps): Promise<ReconcileResult> {
  return stepAndContinue(deps);
}
