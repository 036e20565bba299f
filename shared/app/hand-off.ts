// How a trigger function (kms-event, cluster-event, webhook) gets a reconcile step run when
// REKEY_STEP_MODE=delegate: it asks the reconcile function for one through the Broker
// (`dev.rekey.step.requested`), so that the trigger functions' ServiceAccounts hold no permission
// to list or patch objects cluster-wide. With `local` the trigger runs the step itself
// (shared/app/functions.ts chooses).
import type { StepOutcome } from '../core/reconcile-step.ts';
import { TransientError } from '../http/errors.ts';
import type { EventSink } from '../ports/event-sink.ts';

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
  events: EventSink,
  provider: string,
  requestedBy: string,
): () => Promise<HandedOff> {
  return async () => {
    try {
      await events.emit('step.requested', { provider, requestedBy });
    } catch (err) {
      throw new TransientError('could not hand the step to the reconcile function', {
        cause: err,
        retryAfterSeconds: 5,
      });
    }
    return { kind: 'handed-off', provider, to: 'reconcile' };
  };
}
