// HTTP binding of kms-event. Every path a kms-event serves needs a sender that proved who it is:
//   POST /kms-event             CloudEvents from in-cluster sources (TriggerMesh, Knative aws-sqs,
//                               Eventarc through a Broker): Knative sender identity, checked by the
//                               app (TokenReview), or nothing when the Service is declared
//                               cluster-local (REKEY_KMS_EVENT_PRIVATE); otherwise 401.
//   POST /kms-event/eventbridge raw EventBridge JSON from an API destination: X-Rekey-Token equal
//                               to REKEY_EVENTBRIDGE_TOKEN; unset => 401.
//   POST /kms-event/eventgrid   Azure Event Grid, either delivery schema (an Event Grid schema JSON
//                               array, or one CloudEvents 1.0 structured event): X-Rekey-Token
//                               equal to REKEY_EVENTGRID_TOKEN (a secret delivery property);
//                               unset => 401. Its subscription-validation handshake changes
//                               nothing, and is answered with or without the token.
//   OPTIONS on /kms-event and /kms-event/eventgrid: the CloudEvents abuse-protection handshake.
// Refusals happen before the body is read. Whatever arrives, the answer is 2xx, 4xx, or 503 with
// Retry-After when a dependency failed.
import type { Context, Hono } from 'hono';
import { parseAwsEvent } from '../../shared/domain/events/aws.ts';
import {
  AZURE_KEY_VAULT_CE_PREFIX,
  abuseProtectionResponse,
} from '../../shared/domain/events/azure.ts';
import { classifyKmsCloudEvent } from '../../shared/domain/events/dispatch.ts';
import {
  type EventGridItem,
  parseEventGridDelivery,
} from '../../shared/domain/events/event-grid.ts';
import {
  isParseError,
  type KmsTrigger,
  type KmsTriggerResult,
} from '../../shared/domain/events/kms-trigger.ts';
import { readCloudEvent } from '../../shared/http/cloudevent-intake.ts';
import { toParts } from '../../shared/http/cloudevent-parts.ts';
import type { RekeyEnv } from '../../shared/http/env.ts';
import {
  PermanentError,
  retryLaterUnlessDecided,
  UnauthorizedError,
} from '../../shared/http/errors.ts';
import { readBodyText } from '../../shared/http/read-body.ts';
import {
  handleKmsTrigger,
  handleKmsTriggers,
  type KmsEventDeps,
  type KmsEventNoted,
} from './handler.ts';
import { sameSecret, TOKEN_HEADER } from './shared-secret.ts';

export { TOKEN_HEADER } from './shared-secret.ts';
/** The header an EventBridge API destination (and an Event Grid subscription) sends its secret in. */
export const EVENTBRIDGE_TOKEN_HEADER = TOKEN_HEADER;

/**
 * Who may post CloudEvents on /kms-event: `sender-identity` (the app checks Knative tokens),
 * `private` (declared cluster-local: anyone in the cluster), `none` (refused with 401).
 */
export type CloudEventsAuth = 'sender-identity' | 'private' | 'none';

export interface KmsEventAuth {
  cloudEvents: CloudEventsAuth;
  eventBridgeToken?: string;
  eventGridToken?: string;
}

/** Event Grid marks its validation request with this header value. */
const EVENT_GRID_VALIDATION = 'subscriptionvalidation';

function isCloudEvent(headers: Record<string, string>): boolean {
  return (
    headers['ce-type'] !== undefined ||
    (headers['content-type'] ?? '').toLowerCase().startsWith('application/cloudevents')
  );
}

/**
 * The dependencies with their failures as the sender should see them: anything that is neither a
 * rejection of the request nor already retryable (a store conflict, an unexpected error) is a
 * 503 with Retry-After, which Knative, EventBridge and Event Grid all retry.
 */
function guarded(deps: KmsEventDeps): KmsEventDeps {
  const retryLater = retryLaterUnlessDecided('recording the KMS event failed; retry later');
  return {
    ...deps,
    note: (r) => deps.note(r).catch(retryLater),
    danger: (n) => deps.danger(n).catch(retryLater),
    clear: (c) => deps.clear(c).catch(retryLater),
    step: () => deps.step().catch(retryLater),
  };
}

function requireToken(sent: string | undefined, expected: string | undefined, setting: string) {
  if (!expected) {
    throw new UnauthorizedError(`not accepted here: ${setting} is not set`);
  }
  if (!sameSecret(sent, expected)) {
    throw new UnauthorizedError(`missing or wrong ${TOKEN_HEADER} header`);
  }
}

async function answer(deps: KmsEventDeps, trigger: KmsTriggerResult) {
  if (isParseError(trigger)) throw new PermanentError(trigger.error, { status: 422 });
  return handleKmsTrigger(deps, trigger);
}

async function readJson(c: Context<RekeyEnv>): Promise<unknown> {
  const text = await readBodyText(c);
  try {
    return JSON.parse(text);
  } catch {
    throw new PermanentError('body is not JSON');
  }
}

type ItemResult =
  | ({ id: string } & KmsEventNoted)
  | { id: string; outcome: 'rejected'; error: string };

/** An Event Grid schema delivery: each Key Vault event noted, then one step. */
async function eventGridDelivery(
  deps: KmsEventDeps,
  items: EventGridItem[],
  authenticated: boolean,
) {
  const validation = items.find((i): i is { validationCode: string } => 'validationCode' in i);
  if (validation) return { validationResponse: validation.validationCode };
  if (!authenticated) throw new UnauthorizedError(`missing or wrong ${TOKEN_HEADER} header`);
  const events = items.filter((i): i is { id: string; trigger: KmsTriggerResult } => 'id' in i);
  const valid = events.filter(
    (e): e is { id: string; trigger: KmsTrigger } => !isParseError(e.trigger),
  );
  if (valid.length === 0) {
    const first = events.find((e) => isParseError(e.trigger))?.trigger;
    throw new PermanentError(isParseError(first) ? first.error : 'no events', { status: 422 });
  }
  const { results, step } = await handleKmsTriggers(
    deps,
    valid.map((e) => e.trigger),
  );
  let next = 0;
  const out: ItemResult[] = events.map((e) =>
    isParseError(e.trigger)
      ? { id: e.id, outcome: 'rejected', error: e.trigger.error }
      : { id: e.id, ...(results[next++] as KmsEventNoted) },
  );
  return { results: out, ...(step ? { step } : {}) };
}

export function mountKmsEvent(
  app: Hono<RekeyEnv>,
  wiring: KmsEventDeps & KmsEventAuth,
  path = '/kms-event',
): void {
  const deps = guarded(wiring);
  const handshake = (c: Context<RekeyEnv>) => {
    const r = abuseProtectionResponse(c.req.header());
    if (r.status === 400) throw new PermanentError(r.error);
    return c.body(null, 200, r.headers);
  };
  app.options(path, handshake);
  app.options(`${path}/eventgrid`, handshake);

  app.post(path, async (c) => {
    if (wiring.cloudEvents === 'none') {
      throw new UnauthorizedError(
        'CloudEvents need Knative sender identity (REKEY_SENDER_AUDIENCE, REKEY_ALLOWED_SENDERS), ' +
          'or REKEY_KMS_EVENT_PRIVATE=true when this Service is cluster-local',
      );
    }
    if (!isCloudEvent(c.req.header())) {
      throw new PermanentError(
        `not a CloudEvent: raw EventBridge events go to ${path}/eventbridge, Azure Event Grid to ${path}/eventgrid`,
        { status: 415 },
      );
    }
    return c.json(await answer(deps, classifyKmsCloudEvent(toParts(await readCloudEvent(c)))), 200);
  });

  // An EventBridge API destination posts the raw event with the shared secret.
  app.post(`${path}/eventbridge`, async (c) => {
    requireToken(c.req.header(TOKEN_HEADER), wiring.eventBridgeToken, 'REKEY_EVENTBRIDGE_TOKEN');
    const body = await readJson(c);
    c.set('ceType', 'aws.eventbridge.raw');
    return c.json(await answer(deps, parseAwsEvent(body)), 200);
  });

  // Azure Event Grid, either schema, with the secret as a delivery property.
  app.post(`${path}/eventgrid`, async (c) => {
    const validating =
      (c.req.header('aeg-event-type') ?? '').toLowerCase() === EVENT_GRID_VALIDATION;
    const authenticated =
      wiring.eventGridToken !== undefined &&
      sameSecret(c.req.header(TOKEN_HEADER), wiring.eventGridToken);
    if (!validating || !wiring.eventGridToken) {
      requireToken(c.req.header(TOKEN_HEADER), wiring.eventGridToken, 'REKEY_EVENTGRID_TOKEN');
    }
    if (isCloudEvent(c.req.header())) {
      if (!authenticated) throw new UnauthorizedError(`missing or wrong ${TOKEN_HEADER} header`);
      const ce = toParts(await readCloudEvent(c));
      if (!ce.type.startsWith(AZURE_KEY_VAULT_CE_PREFIX)) {
        throw new PermanentError(`${path}/eventgrid takes Key Vault events only`, { status: 422 });
      }
      return c.json(await answer(deps, classifyKmsCloudEvent(ce)), 200);
    }
    const delivery = parseEventGridDelivery(await readJson(c));
    if ('error' in delivery) throw new PermanentError(delivery.error, { status: delivery.status });
    c.set('ceType', 'azure.eventgrid');
    return c.json(await eventGridDelivery(deps, delivery.items, authenticated), 200);
  });
}
