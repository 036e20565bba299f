// Outgoing Standard Webhooks: a public rekey event POSTed as `{ type, timestamp, data }` to a
// list of URLs, signed by the `standardwebhooks` package. Several secrets give several
// signatures (space-separated, as the spec allows), so the receiver's secret can be rotated.
// Each URL's outcome is returned, never thrown: the caller decides what a failure means.

import { Webhook } from 'standardwebhooks';
import { ConfigError } from '../../config/config.ts';
import { isWebhookSecret, WEBHOOK_SECRET_FORMAT } from '../../config/setting-formats.ts';
import { postEvent, safeTarget } from './http-delivery.ts';

/** One event to deliver. */
export interface OutgoingWebhook {
  /** Sent as `webhook-id`: the CloudEvent id, so receivers can deduplicate across both paths. */
  id: string;
  /** The full type, e.g. `dev.rekey.migration.completed`. */
  type: string;
  timestamp: Date;
  data: unknown;
}

/** Options of {@link createWebhookSender}. */
export interface WebhookSenderOptions {
  urls: readonly (string | URL)[];
  /** Signing secrets, each `whsec_<base64 of at least 16 bytes>`. */
  secrets: readonly string[];
  fetch?: typeof globalThis.fetch;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

/** One URL's outcome: `error` (a TransientError) when it was not delivered. */
export interface WebhookDelivery {
  /** The URL without userinfo, query or fragment (they may hold a credential). */
  target: string;
  error?: unknown;
}

/** Delivers to every URL; resolves with each one's outcome, never rejects. */
export type WebhookSender = (message: OutgoingWebhook) => Promise<WebhookDelivery[]>;

/** A webhook secret that cannot sign (raised at start-up: exit 2, like any setting). */
export class WebhookSenderConfigError extends ConfigError {
  override readonly name = 'WebhookSenderConfigError';
}

/**
 * A sender for `urls`, signing with every secret.
 *
 * @example const send = createWebhookSender({ urls: ['https://ci.example/hook'], secrets: [secret] });
 */
export function createWebhookSender({
  urls,
  secrets,
  fetch = globalThis.fetch,
  timeoutMs = 10_000,
}: WebhookSenderOptions): WebhookSender {
  if (secrets.length === 0) throw new WebhookSenderConfigError('outgoing webhooks need a secret');
  // the same rule as incoming secrets: the receiver verifies with the same library
  const hooks = secrets.map((s, i) => {
    if (!isWebhookSecret(s)) {
      // never echo the secret itself
      throw new WebhookSenderConfigError(
        `outgoing webhook secret #${i + 1} must be ${WEBHOOK_SECRET_FORMAT}`,
      );
    }
    return new Webhook(s);
  });

  return (message) => {
    const body = JSON.stringify({
      type: message.type,
      timestamp: message.timestamp.toISOString(),
      data: message.data,
    });
    const headers = {
      'Content-Type': 'application/json',
      'webhook-id': message.id,
      'webhook-timestamp': String(Math.floor(message.timestamp.getTime() / 1000)),
      'webhook-signature': hooks.map((h) => h.sign(message.id, message.timestamp, body)).join(' '),
    };
    return Promise.all(
      urls.map((url) =>
        postEvent({ url, headers, body, fetch, timeoutMs }).then(
          (): WebhookDelivery => ({ target: safeTarget(url) }),
          (error: unknown): WebhookDelivery => ({ target: safeTarget(url), error }),
        ),
      ),
    );
  };
}
