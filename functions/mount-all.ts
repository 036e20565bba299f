// Every function on one app, for `rekey serve` (local runs, the sandbox e2e tests): the same routes
// the four Knative Services expose, each at its own path.

import type { KmsRotator } from '../shared/adapters/kms-rotator.ts';
import { statusReport } from '../shared/core/status-report.ts';
import { PermanentError, TransientError } from '../shared/http/errors.ts';
import { isRetryable, retryAfterOf } from '../shared/ports/retryable.ts';
import { mountClusterEvent } from './cluster-event/route.ts';
import { handOff, type TriggeredStep } from './hand-off.ts';
import { mountKmsEvent } from './kms-event/route.ts';
import { handleReconcile } from './reconcile/handler.ts';
import { mountReconcile } from './reconcile/route.ts';
import type { Runtime } from './runtime.ts';
import { mountWebhook } from './webhook/route.ts';

export type FunctionName = 'kms-event' | 'cluster-event' | 'webhook' | 'reconcile';
export const FUNCTION_NAMES: readonly FunctionName[] = [
  'kms-event',
  'cluster-event',
  'webhook',
  'reconcile',
];

/**
 * The webhook's `rotate`: the cloud rotates, then one step observes and records the new key. A
 * failed rotation the KMS adapter declares retryable (throttled, unavailable) is a 503 with
 * Retry-After, so Knative or the caller tries again; any other can never succeed as sent (422).
 */
function rotateThenStep(rotator: KmsRotator, step: () => Promise<TriggeredStep>) {
  return async () => {
    const rotated = await rotator.rotate().catch((err: unknown) => {
      const message = `rotate: ${(err as Error).message}`;
      if (isRetryable(err)) {
        throw new TransientError(message, { retryAfterSeconds: retryAfterOf(err), cause: err });
      }
      throw new PermanentError(message, { status: 422, cause: err });
    });
    return { ...rotated, step: await step() };
  };
}

export function mountFunction(rt: Runtime, name: FunctionName): void {
  const { app, config } = rt;
  const continueLater = (data: Record<string, unknown>) =>
    rt.sink.emit('migration.slice', {
      provider: String(data.provider),
      revision: String(data.revision),
      keyIdHash: String(data.keyIdHash),
      ...data,
    });
  // Whatever triggered a step (a KMS event, a cluster change, a webhook), a migration with work
  // left continues through the same continuation event the reconcile function emits. Delegated,
  // the trigger only asks the reconcile function for that step.
  const step: () => Promise<TriggeredStep> =
    config.REKEY_STEP_MODE === 'delegate'
      ? handOff(rt.sink, config.REKEY_PROVIDER, name)
      : async () =>
          (
            await handleReconcile({
              provider: config.REKEY_PROVIDER,
              step: rt.step,
              continueLater,
            })
          ).outcome;
  switch (name) {
    case 'kms-event':
      mountKmsEvent(app, {
        ...rt.kmsEventDeps,
        step,
        ...(config.REKEY_EVENTBRIDGE_TOKEN
          ? { eventBridgeToken: config.REKEY_EVENTBRIDGE_TOKEN }
          : {}),
      });
      return;
    case 'cluster-event':
      mountClusterEvent(app, { namespace: config.REKEY_NAMESPACE, step });
      return;
    case 'reconcile':
      mountReconcile(app, {
        provider: config.REKEY_PROVIDER,
        step: rt.step,
        continueLater,
      });
      return;
    case 'webhook':
      if (!config.REKEY_WEBHOOK_SECRETS) {
        rt.logger.warn('webhook: REKEY_WEBHOOK_SECRETS is not set, /webhook is not served');
        return;
      }
      mountWebhook(
        app,
        {
          provider: config.REKEY_PROVIDER,
          step,
          status: () => statusReport(rt.deps, rt.reconcile),
          ...(rt.rotator ? { rotate: rotateThenStep(rt.rotator, step) } : {}),
        },
        { secrets: config.REKEY_WEBHOOK_SECRETS },
      );
      return;
  }
}
