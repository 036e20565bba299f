// HTTP binding of the webhook function: Standard Webhooks verification (several secrets, timestamp
// tolerance, replay protection by webhook-id) in front of the command handler.
import type { Hono } from 'hono';
import type { RekeyEnv } from '../../shared/http/env.ts';
import { retryLaterUnlessDecided } from '../../shared/http/errors.ts';
import {
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookEnv,
} from '../../shared/http/webhook-verify.ts';
import { handleWebhook, parseCommand, type WebhookDeps } from './handler.ts';

/**
 * The commands' dependencies with their failures as a sender should see them: what is neither a
 * rejection nor a declared failure (an apiserver answer that is not the object asked for) is a
 * 503 with Retry-After, never a 500.
 */
function guarded(deps: WebhookDeps): WebhookDeps {
  const retryLater = retryLaterUnlessDecided('the webhook command failed; retry later');
  return {
    ...deps,
    step: () => deps.step().catch(retryLater),
    status: () => deps.status().catch(retryLater),
    ...(deps.rotate
      ? { rotate: () => (deps.rotate as () => Promise<unknown>)().catch(retryLater) }
      : {}),
  };
}

export function mountWebhook(
  app: Hono<RekeyEnv>,
  wiring: WebhookDeps,
  verify: VerifyWebhookOptions,
  path = '/webhook',
): void {
  const deps = guarded(wiring);
  (app as unknown as Hono<WebhookEnv>).post(path, verifyWebhook(verify), async (c) =>
    c.json((await handleWebhook(deps, parseCommand(c.var.webhook.payload))) as object, 200),
  );
}
