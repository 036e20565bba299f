// Standard Webhooks verification for the signed-callback endpoint: `webhook-id`,
// `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
// several space-separated). Several secrets are accepted so a secret can be rotated without a
// gap. Decisions:
// - A bad or missing signature, or a timestamp outside the tolerance, is 401.
// - The HMAC is computed by the `standardwebhooks` package (`Webhook.sign`), but the timestamp is
//   checked here, because the package's `verify()` hard-codes a 5-minute tolerance.
// - A replay of an id already processed successfully answers 200 `{ "duplicate": true }`: a sender
//   that retries after a lost response gets success, and nothing runs twice. Ids are remembered
//   only after a 2xx, so a failed delivery can be retried with the same id.

import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { Webhook } from 'standardwebhooks';
import { ConfigError } from '../config/config.ts';
import { isWebhookSecret, WEBHOOK_SECRET_FORMAT } from '../config/setting-formats.ts';
import type { RekeyVariables } from './env.ts';
import { PermanentError, UnauthorizedError } from './errors.ts';
import { DEFAULT_MAX_BODY_BYTES, readBodyText } from './read-body.ts';
import { MemoryReplayCache, type ReplayCache } from './replay-cache.ts';

/** A message whose signature and timestamp checked out. */
export interface VerifiedWebhook {
  id: string;
  timestamp: Date;
  /** The raw body, exactly as signed. */
  body: string;
}

/** A verified message with its body parsed as JSON (undefined for an empty body). */
export interface ReceivedWebhook extends VerifiedWebhook {
  payload: unknown;
}

/** Options of {@link createWebhookVerifier}. */
export interface WebhookVerifierOptions {
  /** Accepted secrets, each `whsec_<base64>`; any one matching is enough. */
  secrets: readonly string[];
  /** Largest accepted distance between `webhook-timestamp` and now (default 300 s). */
  toleranceSeconds?: number;
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/** Checks one message's headers and body. */
export type WebhookVerifier = (
  body: string,
  headers: Record<string, string | undefined>,
) => VerifiedWebhook;

/** A webhook secret or setting that can never work (raised at start-up: exit 2, like any setting). */
export class WebhookConfigError extends ConfigError {
  override readonly name = 'WebhookConfigError';
}

const MAX_ID_CHARS = 256;

function parseSecret(secret: string, index: number): Webhook {
  if (!isWebhookSecret(secret)) {
    // Never echo the secret itself.
    throw new WebhookConfigError(`webhook secret #${index + 1} must be ${WEBHOOK_SECRET_FORMAT}`);
  }
  return new Webhook(secret);
}

function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A verifier for `secrets`; throws {@link UnauthorizedError} for anything that does not verify.
 *
 * @example
 * const verify = createWebhookVerifier({ secrets: [process.env.WEBHOOK_SECRET!] });
 * const { id } = verify(rawBody, c.req.header());
 */
export function createWebhookVerifier({
  secrets,
  toleranceSeconds = 300,
  now = Date.now,
}: WebhookVerifierOptions): WebhookVerifier {
  if (secrets.length === 0) throw new WebhookConfigError('at least one webhook secret is needed');
  if (!(toleranceSeconds > 0)) throw new WebhookConfigError('toleranceSeconds must be positive');
  const hooks = secrets.map(parseSecret);

  return (body, headers) => {
    const id = headers['webhook-id'];
    const ts = headers['webhook-timestamp'];
    const signature = headers['webhook-signature'];
    if (!id || !ts || !signature) {
      throw new UnauthorizedError(
        'webhook-id, webhook-timestamp and webhook-signature are required',
      );
    }
    if (id.length > MAX_ID_CHARS) throw new UnauthorizedError('webhook-id is too long');
    if (!/^\d{1,12}$/.test(ts)) throw new UnauthorizedError('webhook-timestamp is not a Unix time');
    const seconds = Number(ts);
    const skew = Math.floor(now() / 1000) - seconds;
    if (skew > toleranceSeconds) throw new UnauthorizedError('webhook-timestamp is too old');
    if (-skew > toleranceSeconds) throw new UnauthorizedError('webhook-timestamp is in the future');

    const timestamp = new Date(seconds * 1000);
    const passed = signature
      .split(' ')
      .filter((s) => s.startsWith('v1,'))
      .map((s) => s.slice(3));
    for (const hook of hooks) {
      const expected = hook.sign(id, timestamp, body).slice(3);
      if (passed.some((p) => sameSignature(p, expected))) return { id, timestamp, body };
    }
    throw new UnauthorizedError('no webhook signature matches');
  };
}

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions extends WebhookVerifierOptions {
  /** Where processed ids are remembered (default a per-process {@link MemoryReplayCache}). */
  replayCache?: ReplayCache;
  /** Largest accepted body, in bytes (default 1 MiB). */
  maxBytes?: number;
}

/** The hono environment of a route behind {@link verifyWebhook}. */
export type WebhookEnv = { Variables: RekeyVariables & { webhook: ReceivedWebhook } };

/**
 * Middleware: verifies the message, answers a replay of a processed id with
 * 200 `{ duplicate: true, id }`, leaves the message on `c.var.webhook`, and remembers the id once
 * the handler answered 2xx.
 *
 * @example app.post('/webhook', verifyWebhook({ secrets }), (c) => run(c.var.webhook.payload));
 */
export function verifyWebhook({
  replayCache = new MemoryReplayCache(),
  maxBytes = DEFAULT_MAX_BODY_BYTES,
  ...verifierOptions
}: VerifyWebhookOptions): MiddlewareHandler<WebhookEnv> {
  const verify = createWebhookVerifier(verifierOptions);
  // Long enough to cover the whole window in which the timestamp still verifies.
  const rememberMs = 2 * (verifierOptions.toleranceSeconds ?? 300) * 1000;

  return async (c, next) => {
    const body = await readBodyText(c, { maxBytes });
    const message = verify(body, c.req.header());
    c.set('webhookId', message.id);
    if (await replayCache.seen(message.id)) {
      c.set('eventOutcome', 'duplicate');
      return c.json({ duplicate: true, id: message.id }, 200);
    }
    let payload: unknown;
    if (body.trim() !== '') {
      try {
        payload = JSON.parse(body);
      } catch (cause) {
        throw new PermanentError('webhook body is not valid JSON', { cause });
      }
    }
    c.set('webhook', { ...message, payload });
    await next();
    if (c.res.status >= 200 && c.res.status < 300 && c.error === undefined) {
      await replayCache.remember(message.id, rememberMs);
    }
  };
}
