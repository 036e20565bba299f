// What the HTTP functions of one process get (one Knative Service, or all four for `rekey serve`):
// their logger, metrics and event sink, the hono app with probes and sender authentication, and
// for each function the dependencies its handler takes, ready to mount. Part of the composition
// root (compose.ts): the settings decide here whether a trigger runs its step or hands it off,
// whether /webhook is served and which paths skip sender authentication.
import type { Hono } from 'hono';
import type { AuthenticationApi } from '../adapters/k8s/typed-api.ts';
import type { KmsRotator } from '../adapters/kms-rotator.ts';
import { type RekeyConfig, stateNamespaceOf } from '../config/config.ts';
import type { ReconcileConfig, ReconcileDeps } from '../core/deps.ts';
import type { DriveSwitchResult } from '../core/drive-encryption-switch.ts';
import { FOLLOWED, requireProvider } from '../core/followed-provider.ts';
import { type NoteResult, noteKmsRotation } from '../core/note-kms-rotation.ts';
import { reconcileStep, type StepOutcome } from '../core/reconcile-step.ts';
import {
  clearKeyDanger,
  type DangerCleared,
  type DangerRecorded,
  recordKeyDanger,
} from '../core/record-key-danger.ts';
import { statusReport } from '../core/status-report.ts';
import { stepAndContinue } from '../core/step-and-continue.ts';
import type { DangerClearance } from '../domain/key-danger.ts';
import type { KeyDangerNote } from '../domain/revision.ts';
import type { RekeyEnv } from '../http/env.ts';
import { TransientError } from '../http/errors.ts';
import type { VerifyWebhookOptions } from '../http/webhook-verify.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics, type MetricsWithRegistry } from '../observability/metrics.ts';
import type { EventSink, MigrationSliceData } from '../ports/event-sink.ts';
import type { ReplayClaims } from '../ports/replay-claims.ts';
import { retryAfterOf } from '../ports/retryable.ts';
import { eventSinkFor } from './event-sink.ts';
import { handOff, type TriggeredStep } from './hand-off.ts';
import { httpAppFor } from './http-app.ts';
import { rememberingAdoption } from './last-adoption.ts';
import { rotateThenStep } from './rotate-then-step.ts';

export type FunctionName = 'kms-event' | 'cluster-event' | 'webhook' | 'reconcile';

export const FUNCTION_NAMES: readonly FunctionName[] = [
  'kms-event',
  'cluster-event',
  'webhook',
  'reconcile',
];

export { UNAUTHENTICATED_PATHS } from './http-app.ts';

/** What the kms-event handler takes (functions/kms-event/handler.ts) and how it authenticates. */
export interface KmsEventWiring {
  provider: string;
  kmsKey?: string;
  /** Who may post CloudEvents on /kms-event (functions/kms-event/route.ts). */
  cloudEvents: 'sender-identity' | 'private' | 'none';
  eventBridgeToken?: string;
  eventGridToken?: string;
  note(rotation: Parameters<typeof noteKmsRotation>[2]): Promise<NoteResult>;
  danger(note: KeyDangerNote): Promise<DangerRecorded>;
  clear(clearance: DangerClearance): Promise<DangerCleared>;
  step(): Promise<TriggeredStep>;
}

/** How /kms-event's CloudEvents are authenticated under these settings. */
export function cloudEventsAuthOf(
  config: Pick<
    RekeyConfig,
    'REKEY_SENDER_AUDIENCE' | 'REKEY_ALLOWED_SENDERS' | 'REKEY_KMS_EVENT_PRIVATE'
  >,
): KmsEventWiring['cloudEvents'] {
  if (config.REKEY_SENDER_AUDIENCE && config.REKEY_ALLOWED_SENDERS) return 'sender-identity';
  return config.REKEY_KMS_EVENT_PRIVATE ? 'private' : 'none';
}

/** What the webhook handler takes, and the secrets its requests are verified with. */
export interface WebhookWiring {
  deps: {
    provider: string;
    step(): Promise<TriggeredStep>;
    status(): Promise<unknown>;
    /** Absent when the KMS of REKEY_KMS_KEY cannot rotate (or it is unset). */
    rotate?: () => Promise<unknown>;
  };
  verify: VerifyWebhookOptions;
}

/** The functions of one process, composed; main.ts files mount what they serve. */
export interface Functions {
  /** The process's name: the function's, or `serve`. */
  readonly name: string;
  /** The functions this process serves (readiness and the start-up log say which). */
  readonly served: readonly FunctionName[];
  readonly config: RekeyConfig;
  readonly logger: Logger;
  readonly metrics: MetricsWithRegistry;
  readonly events: EventSink;
  /** The app every route is mounted on: probes, /metrics, request logs, sender auth, errors. */
  readonly http: Hono<RekeyEnv>;
  /** The reconcile ports as the functions use them: with events, logs and progress metrics. */
  readonly deps: ReconcileDeps;
  readonly kmsEvent: KmsEventWiring;
  /** Key-id reports are in `namespace`, revisions in `stateNamespace`. */
  readonly clusterEvent: {
    namespace: string;
    stateNamespace: string;
    step(): Promise<TriggeredStep>;
  };
  readonly reconcile: {
    provider: string;
    step(): Promise<StepOutcome>;
    continueLater(data: MigrationSliceData): Promise<void>;
    /** One tick of the declared EncryptionSwitch (PingSource ticks only); absent: none to drive. */
    encryptionSwitch?: (() => Promise<DriveSwitchResult>) | undefined;
  };
  /** Undefined when REKEY_WEBHOOK_SECRETS is unset: /webhook is then not served. */
  readonly webhook: WebhookWiring | undefined;
  close(): void;
}

/** What compose.ts hands over: the settings and what was built from them once per process. */
export interface FunctionsInputs {
  config: RekeyConfig;
  deps: ReconcileDeps;
  reconcile: ReconcileConfig;
  authentication: AuthenticationApi;
  /** Where /webhook claims each `webhook-id` before running it (shared by every replica). */
  webhookClaims: ReplayClaims;
  rotator(): KmsRotator | undefined;
  close(): void;
}

export function composeFunctions(
  inputs: FunctionsInputs,
  name: string,
  served: readonly FunctionName[],
): Functions {
  const { config, reconcile } = inputs;
  // what messages and events name; the steps and the KMS notes resolve the provider they follow
  // on each use when REKEY_PROVIDER pins none (shared/core/followed-provider.ts)
  const provider = config.REKEY_PROVIDER ?? FOLLOWED;
  const logger = createLogger({ name: `rekey-${name}`, level: config.LOG_LEVEL });
  const metrics = createMetrics({ defaultLabels: { function: name } });
  const events = eventSinkFor(config, name, logger, metrics);
  // every snapshot a step (or status) reads is kept for /readyz, which never reads one itself
  const adoption = rememberingAdoption(inputs.deps.adoption, inputs.deps.clock);
  const deps: ReconcileDeps = {
    ...inputs.deps,
    adoption: adoption.reader,
    // unless the caller chose where the step's log lines go (tests), they go to the logger
    log: inputs.deps.log ?? ((msg, fields) => logger.info(fields ?? {}, msg)),
    events,
    onProgress: (r) =>
      metrics.revisionPhase({ provider: r.provider, revision: r.name, phase: r.phase }),
  };

  const step = stepRunner(deps, reconcile, logger, metrics);
  const providerNow = () => requireProvider(deps, reconcile);
  const continueLater = (data: MigrationSliceData) => events.emit('migration.slice', data);
  // Whatever triggered a step (a KMS event, a cluster change, a webhook), a migration with work
  // left continues through the same continuation event the reconcile function emits. Delegated,
  // the trigger only asks the reconcile function for that step.
  const triggered = (by: FunctionName): (() => Promise<TriggeredStep>) =>
    config.REKEY_STEP_MODE === 'delegate'
      ? handOff(events, provider, by)
      : async () => (await stepAndContinue({ step, continueLater })).outcome;

  const http = httpAppFor(inputs, {
    name,
    served,
    deps,
    lastAdoption: adoption.last,
    logger,
    metrics,
  });
  if (served.includes('kms-event')) logKmsEventPaths(config, logger);

  const webhook = webhookWiring(inputs, {
    served,
    deps,
    logger,
    step: () => triggered('webhook'),
  });

  return {
    name,
    served,
    config,
    logger,
    metrics,
    events,
    http,
    deps,
    kmsEvent: {
      provider,
      ...(config.REKEY_KMS_KEY ? { kmsKey: config.REKEY_KMS_KEY } : {}),
      cloudEvents: cloudEventsAuthOf(config),
      ...(config.REKEY_EVENTBRIDGE_TOKEN
        ? { eventBridgeToken: config.REKEY_EVENTBRIDGE_TOKEN }
        : {}),
      ...(config.REKEY_EVENTGRID_TOKEN ? { eventGridToken: config.REKEY_EVENTGRID_TOKEN } : {}),
      note: async (rotation) => noteKmsRotation(deps, await providerNow(), rotation),
      danger: async (note) => recordKeyDanger(deps, await providerNow(), note),
      clear: async (clearance) => clearKeyDanger(deps, await providerNow(), clearance),
      step: triggered('kms-event'),
    },
    clusterEvent: {
      namespace: config.REKEY_NAMESPACE,
      stateNamespace: stateNamespaceOf(config),
      step: triggered('cluster-event'),
    },
    reconcile: { provider, step, continueLater },
    webhook,
    close: inputs.close,
  };
}

/** Says at start-up which kms-event paths are open to whom, and which answer 401. */
function logKmsEventPaths(config: RekeyConfig, logger: Logger): void {
  const paths = {
    '/kms-event': cloudEventsAuthOf(config),
    '/kms-event/eventbridge': config.REKEY_EVENTBRIDGE_TOKEN ? 'shared secret' : 'none',
    '/kms-event/eventgrid': config.REKEY_EVENTGRID_TOKEN ? 'shared secret' : 'none',
  };
  const refused = Object.entries(paths).flatMap(([p, auth]) => (auth === 'none' ? [p] : []));
  if (refused.length > 0) {
    logger.warn(
      { kmsEventPaths: paths },
      `kms-event: ${refused.join(', ')} answer 401 (no authenticator set)`,
    );
  } else {
    logger.info({ kmsEventPaths: paths }, 'kms-event: every path authenticates its sender');
  }
}

/** One reconcile step as a function runs it: failures become a retryable error, steps are counted. */
function stepRunner(
  deps: ReconcileDeps,
  reconcile: ReconcileConfig,
  logger: Logger,
  metrics: MetricsWithRegistry,
): () => Promise<StepOutcome> {
  return async () => {
    let o: StepOutcome;
    try {
      o = await reconcileStep(deps, reconcile);
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
}

/** /webhook's dependencies, when its secrets are set (and `rotate` only with a rotator). */
function webhookWiring(
  inputs: FunctionsInputs,
  {
    served,
    deps,
    logger,
    step,
  }: {
    served: readonly FunctionName[];
    deps: ReconcileDeps;
    logger: Logger;
    step: () => () => Promise<TriggeredStep>;
  },
): WebhookWiring | undefined {
  const { config, reconcile } = inputs;
  if (!config.REKEY_WEBHOOK_SECRETS) {
    if (served.includes('webhook')) {
      logger.warn('webhook: REKEY_WEBHOOK_SECRETS is not set, /webhook is not served');
    }
    return undefined;
  }
  const webhookStep = step();
  const rotator = inputs.rotator();
  return {
    deps: {
      provider: config.REKEY_PROVIDER ?? FOLLOWED,
      ...(config.REKEY_PROVIDER
        ? {}
        : { followedProvider: () => requireProvider(deps, reconcile) }),
      step: webhookStep,
      status: () => statusReport(deps, reconcile),
      ...(rotator
        ? {
            rotate: rotateThenStep(rotator, webhookStep, {
              onStepError: (err) => logger.warn({ err }, 'webhook: the step after rotate failed'),
              onRotateError: (err) => logger.warn({ err }, 'webhook: rotate failed'),
            }),
          }
        : {}),
    },
    verify: {
      secrets: config.REKEY_WEBHOOK_SECRETS,
      claims: inputs.webhookClaims,
      // a crashed holder's claim may be taken over once it has not been renewed for the step's
      // budget, its deadline (R6: budget + 30 s) and a margin
      claimStaleAfterMs: (config.REKEY_BUDGET_SECONDS + 30 + 60) * 1000,
      onClaimError: (err, what) =>
        logger.warn({ err }, `webhook: could not ${what} the claim of a webhook-id`),
    },
  };
}
