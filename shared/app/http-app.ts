// The hono app of one function process (part of the composition root, shared/app/functions.ts):
// sender authentication from the settings, and what /readyz reports and to whom.
import type { RekeyConfig } from '../config/config.ts';
import type { ReconcileDeps } from '../core/deps.ts';
import { FOLLOWED } from '../core/followed-provider.ts';
import { createApp } from '../http/app.ts';
import { createTokenReviewAuthenticator, tokenReviewerFor } from '../http/sender-auth.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsWithRegistry } from '../observability/metrics.ts';
import type { FunctionName, FunctionsInputs } from './functions.ts';
import type { LastAdoption } from './last-adoption.ts';

/**
 * Paths sender authentication skips: raw EventBridge posts and Azure Event Grid deliveries
 * authenticate with their shared secrets (functions/kms-event/route.ts), webhooks with their
 * signature.
 */
export const UNAUTHENTICATED_PATHS: readonly string[] = [
  '/webhook',
  '/kms-event/eventbridge',
  '/kms-event/eventgrid',
];

/**
 * Whether a process under these settings answers addresses outside the cluster: /webhook is
 * public in infra/, and kms-event is public unless declared cluster-local
 * (REKEY_KMS_EVENT_PRIVATE). Such a process keeps its probe details to itself.
 */
export function reachableFromOutside(
  served: readonly FunctionName[],
  config: Pick<RekeyConfig, 'REKEY_KMS_EVENT_PRIVATE'>,
): boolean {
  return (
    served.includes('webhook') || (served.includes('kms-event') && !config.REKEY_KMS_EVENT_PRIVATE)
  );
}

/**
 * The hono app of a function process: sender authentication and what readiness reports. A probe
 * does local work only: it reports the adoption snapshot the last step read, with its age, and
 * never calls the apiservers (one slow apiserver must not make rekey unready during the very
 * outage its steps wait out).
 */
export function httpAppFor(
  inputs: FunctionsInputs,
  {
    name,
    served,
    deps,
    lastAdoption,
    logger,
    metrics,
  }: {
    name: string;
    served: readonly FunctionName[];
    deps: ReconcileDeps;
    lastAdoption: () => LastAdoption | undefined;
    logger: Logger;
    metrics: MetricsWithRegistry;
  },
) {
  const { config } = inputs;
  const auth =
    config.REKEY_SENDER_AUDIENCE && config.REKEY_ALLOWED_SENDERS
      ? createTokenReviewAuthenticator({
          audience: config.REKEY_SENDER_AUDIENCE,
          allowedSenders: config.REKEY_ALLOWED_SENDERS,
          reviewToken: tokenReviewerFor(inputs.authentication),
        })
      : undefined;
  // a function that only hands its steps off reads nothing of the apiservers: nothing to report
  const readsAdoption =
    config.REKEY_STEP_MODE === 'local' || served.some((f) => f === 'reconcile' || f === 'webhook');
  const http = createApp({
    name,
    logger,
    metrics,
    ...(auth ? { auth } : {}),
    unauthenticatedPaths: UNAUTHENTICATED_PATHS,
    probeDetails: !reachableFromOutside(served, config),
    readiness: async () => ({
      ready: true,
      details: {
        provider: config.REKEY_PROVIDER ?? FOLLOWED,
        stepMode: config.REKEY_STEP_MODE,
        ...(readsAdoption ? { adoption: adoptionDetails(lastAdoption(), deps.clock.now()) } : {}),
        etcdVerification: deps.verifier ? 'on' : 'off (completions are reported unverified)',
        eventSink: config.K_SINK ? 'on' : 'off',
      },
    }),
  });
  return http;
}

/** What /readyz says of the last adoption snapshot (none yet: no step has run here). */
function adoptionDetails(last: LastAdoption | undefined, now: Date): Record<string, unknown> {
  if (!last) return { read: false, note: 'no step has read the apiservers yet in this process' };
  return {
    read: true,
    readAt: last.readAt.toISOString(),
    ageSeconds: Math.max(0, Math.round((now.getTime() - last.readAt.getTime()) / 1000)),
    liveApiservers: last.snapshot.liveApiservers.length,
    metricsReadable: last.snapshot.metricsReadable,
  };
}
