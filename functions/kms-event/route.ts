// HTTP binding of kms-event: CloudEvents from Knative sources (AWS, GCP, Azure) on /kms-event, raw
// EventBridge JSON from an API destination on /kms-event/eventbridge (authenticated by a
// shared-secret header), and the Azure Event Grid abuse-protection handshake (OPTIONS).
import { timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import { parseAwsEvent } from '../../shared/domain/events/aws.ts';
import { abuseProtectionResponse } from '../../shared/domain/events/azure.ts';
import { classifyKmsCloudEvent } from '../../shared/domain/events/dispatch.ts';
import { isParseError, type KmsTriggerResult } from '../../shared/domain/events/kms-trigger.ts';
import { readCloudEvent } from '../../shared/http/cloudevent-intake.ts';
import { toParts } from '../../shared/http/cloudevent-parts.ts';
import type { RekeyEnv } from '../../shared/http/env.ts';
import { PermanentError, UnauthorizedError } from '../../shared/http/errors.ts';
import { handleKmsTrigger, type KmsEventDeps } from './handler.ts';

export const EVENTBRIDGE_TOKEN_HEADER = 'x-rekey-token';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function isCloudEvent(headers: Record<string, string>): boolean {
  return (
    headers['ce-type'] !== undefined ||
    (headers['content-type'] ?? '').toLowerCase().startsWith('application/cloudevents')
  );
}

async function answer(deps: KmsEventDeps, trigger: KmsTriggerResult) {
  if (isParseError(trigger)) throw new PermanentError(trigger.error, { status: 422 });
  return handleKmsTrigger(deps, trigger);
}

export function mountKmsEvent(
  app: Hono<RekeyEnv>,
  deps: KmsEventDeps & { eventBridgeToken?: string },
  path = '/kms-event',
): void {
  app.options(path, (c) => {
    const r = abuseProtectionResponse(c.req.header());
    if (r.status === 400) throw new PermanentError(r.error);
    return c.body(null, 200, r.headers);
  });
  app.post(path, async (c) => {
    if (!isCloudEvent(c.req.header())) {
      throw new PermanentError(
        `not a CloudEvent: raw EventBridge events go to ${path}/eventbridge`,
        { status: 415 },
      );
    }
    return c.json(await answer(deps, classifyKmsCloudEvent(toParts(await readCloudEvent(c)))), 200);
  });
  // An EventBridge API destination posts the raw event; only the configured shared secret lets it
  // in (sender authentication does not apply to this path).
  app.post(`${path}/eventbridge`, async (c) => {
    const sent = c.req.header(EVENTBRIDGE_TOKEN_HEADER);
    if (!deps.eventBridgeToken) {
      throw new UnauthorizedError(
        'raw EventBridge events are not accepted: REKEY_EVENTBRIDGE_TOKEN is not set',
      );
    }
    if (!sent || !sameSecret(sent, deps.eventBridgeToken)) {
      throw new UnauthorizedError(`missing or wrong ${EVENTBRIDGE_TOKEN_HEADER} header`);
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new PermanentError('body is not JSON');
    }
    c.set('ceType', 'aws.eventbridge.raw');
    return c.json(await answer(deps, parseAwsEvent(body)), 200);
  });
}
