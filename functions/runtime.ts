// What every function's composition root builds from validated settings: the reconcile graph,
// logger, metrics, event sink, sender authentication, and the hono app with probes. main.ts files
// read the environment and call this; nothing here reads process.env.
import { existsSync, readFileSync } from 'node:fs';
import type { Hono } from 'hono';
import { buildDeps } from '../shared/adapters/build-deps.ts';
import { CloudEventSink } from '../shared/adapters/events/cloudevent-sink.ts';
import { createKmsRotator, type KmsRotator } from '../shared/adapters/kms-rotator.ts';
import type { RekeyConfig } from '../shared/config/config.ts';
import type { ReconcileConfig, ReconcileDeps } from '../shared/core/deps.ts';
import { noteKmsRotation } from '../shared/core/note-kms-rotation.ts';
import { reconcileStep, type StepOutcome } from '../shared/core/reconcile-step.ts';
import { type DangerSink, recordKeyDanger } from '../shared/core/record-key-danger.ts';
import { createApp } from '../shared/http/app.ts';
import type { RekeyEnv } from '../shared/http/env.ts';
import { TransientError } from '../shared/http/errors.ts';
import { createTokenReviewAuthenticator, tokenReviewerFor } from '../shared/http/sender-auth.ts';
import { createLogger, type Logger } from '../shared/observability/logger.ts';
import { createMetrics, type MetricsWithRegistry } from '../shared/observability/metrics.ts';
import type { EventSink } from '../shared/ports/event-sink.ts';
import { retryAfterOf } from '../shared/ports/retryable.ts';
import type { KmsEventDeps } from './kms-event/handler.ts';

export interface Runtime {
  config: RekeyConfig;
  deps: ReconcileDeps;
  reconcile: ReconcileConfig;
  logger: Logger;
  metrics: MetricsWithRegistry;
  sink: EventSink & DangerSink;
  app: Hono<RekeyEnv>;
  /** One bounded reconcile step; failures of the cluster API become a retryable 503. */
  step(): Promise<StepOutcome>;
  kmsEventDeps: KmsEventDeps;
  /** Rotates the cloud key behind the provider now, where the cloud can (AWS, GCP). */
  rotator?: KmsRotator;
  close(): void;
}

/**
 * Where rekey's events go: K_SINK (with Knative's sender token, when mounted, to K_SINK only) and
 * signed outgoing webhooks; with neither configured, events are logged as not sent (a key danger
 * at error level) and continuations wait for the next PingSource tick.
 */
export function eventSink(
  config: RekeyConfig,
  name: string,
  logger: Logger,
): EventSink & DangerSink {
  const webhooks =
    config.REKEY_OUTGOING_WEBHOOK_URLS && config.REKEY_OUTGOING_WEBHOOK_SECRETS
      ? { urls: config.REKEY_OUTGOING_WEBHOOK_URLS, secrets: config.REKEY_OUTGOING_WEBHOOK_SECRETS }
      : undefined;
  if (!config.K_SINK && !webhooks) {
    logger.warn(
      'K_SINK is not set: rekey emits no events, and migrations continue on PingSource ticks only',
    );
    return {
      emit: async (type) => logger.debug({ type }, 'event not sent: no K_SINK'),
      emitRaw: async (type, data) => logger.error({ type, ...data }, 'event not sent: no K_SINK'),
    };
  }
  const sinkOrigin = config.K_SINK ? new URL(config.K_SINK).origin : undefined;
  const tokenFile = config.REKEY_SINK_TOKEN_FILE;
  const withSinkToken: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== sinkOrigin || !existsSync(tokenFile)) return fetch(input, init);
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${readFileSync(tokenFile, 'utf8').trim()}`);
    return fetch(input, { ...init, headers });
  };
  return new CloudEventSink({
    functionName: name,
    fetch: withSinkToken,
    ...(config.K_SINK ? { sink: config.K_SINK } : {}),
    ...(webhooks ? { webhooks } : {}),
  });
}

export function buildRuntime(
  config: RekeyConfig,
  {
    name,
    readsAdoption = true,
  }: {
    name: string;
    /**
     * Whether /readyz reports the apiservers' adoption: not for a function that only hands its
     * steps off, since its ServiceAccount may not read identity Leases or /metrics.
     */
    readsAdoption?: boolean;
  },
): Runtime {
  const logger = createLogger({ name: `rekey-${name}`, level: config.LOG_LEVEL });
  const metrics = createMetrics({ defaultLabels: { function: name } });
  const sink = eventSink(config, name, logger);
  const built = buildDeps(config, { log: (msg, fields) => logger.info(fields ?? {}, msg) });
  const deps: ReconcileDeps = {
    ...built.deps,
    events: sink,
    onProgress: (r) =>
      metrics.revisionPhase({ provider: r.provider, revision: r.name, phase: r.phase }),
  };
  const auth =
    config.REKEY_SENDER_AUDIENCE && config.REKEY_ALLOWED_SENDERS
      ? createTokenReviewAuthenticator({
          audience: config.REKEY_SENDER_AUDIENCE,
          allowedSenders: config.REKEY_ALLOWED_SENDERS,
          reviewToken: tokenReviewerFor(built.authentication),
        })
      : undefined;
  const app = createApp({
    name,
    logger,
    metrics,
    ...(auth ? { auth } : {}),
    // raw EventBridge posts authenticate with their shared secret, webhooks with their signature
    unauthenticatedPaths: ['/webhook', '/kms-event/eventbridge'],
    readiness: async () => {
      const adoption = readsAdoption ? await deps.adoption.read() : undefined;
      return {
        ready: true,
        details: {
          provider: config.REKEY_PROVIDER,
          stepMode: config.REKEY_STEP_MODE,
          ...(adoption
            ? {
                liveApiservers: adoption.liveApiservers.length,
                metricsReadable: adoption.metricsReadable,
              }
            : {}),
          etcdVerification: deps.verifier ? 'on' : 'off (completions are reported unverified)',
          eventSink: config.K_SINK ? 'on' : 'off',
        },
      };
    },
  });

  const step = async (): Promise<StepOutcome> => {
    let o: StepOutcome;
    try {
      o = await reconcileStep(deps, built.reconcile);
    } catch (err) {
      logger.warn({ err }, 'reconcile step failed');
      // whatever failed, the next delivery runs a fresh step: not sooner than 10 s, nor than the
      // failed call's own Retry-After
      throw new TransientError('reconcile step failed; it will be retried', {
        cause: err,
        retryAfterSeconds: Math.max(10, retryAfterOf(err) ?? 0),
      });
    }
    if (o.kind === 'step') metrics.stepDone({ provider: o.provider, step: o.step.kind });
    return o;
  };
  const provider = config.REKEY_PROVIDER;
  const rotator = config.REKEY_KMS_KEY
    ? createKmsRotator({
        key: config.REKEY_KMS_KEY,
        ...(config.REKEY_AWS_ENDPOINT ? { awsEndpoint: config.REKEY_AWS_ENDPOINT } : {}),
        ...(config.REKEY_GCP_ENDPOINT ? { gcpEndpoint: config.REKEY_GCP_ENDPOINT } : {}),
      })
    : undefined;
  return {
    config,
    deps,
    reconcile: built.reconcile,
    logger,
    metrics,
    sink,
    app,
    step,
    kmsEventDeps: {
      provider,
      ...(config.REKEY_KMS_KEY ? { kmsKey: config.REKEY_KMS_KEY } : {}),
      note: (rotation) => noteKmsRotation(deps, provider, rotation),
      danger: (note) => recordKeyDanger({ ...deps, sink }, provider, note),
      step,
    },
    ...(rotator ? { rotator } : {}),
    close: built.close,
  };
}
