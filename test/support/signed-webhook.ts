// A Standard Webhooks request as a sender signs it now: JSON body, webhook-id, timestamp and the
// signature with `secret`, for tests that post to the webhook function's hono app.
import { Webhook } from 'standardwebhooks';

export function signedWebhook(secret: string, id: string, payload: unknown): RequestInit {
  const at = new Date();
  const body = JSON.stringify(payload);
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, body),
    },
    body,
  };
}
