// How a trigger function (kms-event, cluster-event, webhook) gets a reconcile step run. With
// REKEY_STEP_MODE=local it runs the step in its own request; with `delegate` it asks the reconcile
// function for one through the Broker (dev.rekey.step.requested), so that the trigger functions'
// ServiceAccounts hold no permission to list or patch objects cluster-wide.
import type { StepOutcome } from '../shared/core/reconcile-step.ts';
import type { DangerSink } from '../shared/core/record-key-danger.ts';
import { TransientError } from '../shared/http/errors.ts';

/** Without the `dev.rekey.` prefix the sink adds. */
export const STEP_REQUESTED = 'step.requested';

export interface HandedOff {
  kind: 'handed-off';
  provider: string;
  /** The function that will run the step. */
  to: 'reconcile';
}

/** What a trigger function's step yields: the step's outcome, or the hand-off to reconcile. */
export type TriggeredStep = StepOutcome | HandedOff;

/**
 * A step request for the reconcile function. When the Broker cannot take it, the trigger's own
 * event fails with a retryable 503, so Knative redelivers it and no trigger is dropped.
 */
export function handOff(
  sink: DangerSink,
  provider: string,
  requestedBy: string,
): () => Promise<HandedOff> {
  return async () => {
    try {
      await sink.emitRaw(STEP_REQUESTED, { provider, requestedBy });
    } catch (err) {
      throw new TransientError('could not hand the step to the reconcile function', {
        cause: err,
        retryAfterSeconds: 5,
      });
    }
    return { kind: 'handed-off', provider, to: 'reconcile' };
  };
}
