// HTTP binding of the webhook function: Standard Webhooks verification (several secrets, timestamp
// tolerance, replay protection by webhook-id) in front of the command handler.
import type { Hono } from 'hono';
import type { RekeyEnv } from '../../shared/http/env.ts';
import {
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookEnv,
} from '../../shared/http/webhook-verify.ts';
import { handleWebhook, parseCommand, type WebhookDeps } from './handler.ts';

export function mountWebhook(
  app: Hono<RekeyEnv>,
  deps: WebhookDeps,
  verify: VerifyWebhookOptions,
  path = '/webhook',
): void {
  (app as unknown as Hono<WebhookEnv>).post(path, verifyWebhook(verify), async (c) =>
    c.json((await handleWebhook(deps, parseCommand(c.var.webhook.payload))) as object, 200),
  );
}
