// Standard Webhooks verification for the signed-callback endpoint: `webhook-id`,
// `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
// several space-separated). Several secrets are accepted so a secret can be rotated without a
// gap. Decisions:
// - A bad or missing signature, or a timestamp outside the tolerance, is 401.
// - The HMAC is computed by the `standardwebhooks` package (`Webhook.sign`), but the timestamp is
//   checked here, because the package's `verify()` hard-codes a 5-minute tolerance.
// - Replay protection is a claim on the `webhook-id`, taken BEFORE the command runs, in a store
//   every replica shares (shared/ports/replay-claims.ts): of two copies arriving together, or at
//   two replicas, one runs. A replay of a finished id answers its recorded result with
//   `duplicate: true` (200); a replay while it still runs answers 429 with Retry-After, so the
//   sender comes back for the result (Knative and Standard Webhooks senders retry 429; a 409
//   would say nothing about when). A failed command releases its claim, so a retry runs.
// - The claim lasts while a message with that id can still verify: its timestamp plus the
//   tolerance, plus a margin for the clocks of sender and replicas.

import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { Webhook } from 'standardwebhooks';
import { ConfigError } from '../config/config.ts';
import { isWebhookSecret, WEBHOOK_SECRET_FORMAT } from '../config/setting-formats.ts';
import type { ReplayClaims } from '../ports/replay-claims.ts';
import type { RekeyVariables } from './env.ts';
import { PermanentError, TransientError, UnauthorizedError } from './errors.ts';
import { DEFAULT_MAX_BODY_BYTES, readBodyText } from './read-body.ts';

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
  /** Where ids are claimed: shared by every replica (the cluster), or in memory for one process. */
  claims: ReplayClaims;
  /**
   * How long a running claim stays its holder's without a renewal (default 150 s: a step's
   * budget and deadline plus a margin); then a crashed holder's claim may be taken over.
   */
  claimStaleAfterMs?: number;
  /** Largest accepted body, in bytes (default 1 MiB). */
  maxBytes?: number;
  /** Told when a claim could not be completed or released (the answer goes out regardless). */
  onClaimError?: (err: unknown, what: 'complete' | 'release') => void;
}

/** The hono environment of a route behind {@link verifyWebhook}. */
export type WebhookEnv = { Variables: RekeyVariables & { webhook: ReceivedWebhook } };

/** Margin on a claim's expiry for the clocks of sender and replicas. */
export const CLAIM_CLOCK_MARGIN_MS = 60_000;

/** Largest recorded answer: a bigger one is recorded as a note that it was left out. */
export const MAX_RECORDED_ANSWER_BYTES = 8_192;

/** Seconds a replay of a still-running id is asked to wait before asking again. */
const RUNNING_RETRY_AFTER_SECONDS = 10;

/** What a replay of a finished id answers: the recorded body, marked as a duplicate. */
function duplicateBody(id: string, recorded: unknown): Record<string, unknown> {
  const fields =
    typeof recorded === 'object' && recorded !== null && !Array.isArray(recorded)
      ? (recorded as Record<string, unknown>)
      : recorded === undefined
        ? {}
        : { result: recorded };
  return { ...fields, duplicate: true, id };
}

/** The answer's JSON body, or a note when it is not JSON or too large to keep. */
async function recordable(res: Response): Promise<unknown> {
  const text = await res.clone().text();
  if (Buffer.byteLength(text) > MAX_RECORDED_ANSWER_BYTES) {
    return { recorded: `the answer was over ${MAX_RECORDED_ANSWER_BYTES} bytes; not kept` };
  }
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return { recorded: 'the answer was not JSON; not kept' };
  }
}

/**
 * Middleware: verifies the message, claims its id (answering a replay of a finished one with its
 * recorded result and `duplicate: true`, of a running one 429), leaves the message on
 * `c.var.webhook`, then records the handler's 2xx answer, or releases the claim on any other.
 *
 * @example app.post('/webhook', verifyWebhook({ secrets, claims }), (c) => run(c.var.webhook.payload));
 */
export function verifyWebhook({
  claims,
  claimStaleAfterMs = 150_000,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
  onClaimError = () => {},
  ...verifierOptions
}: VerifyWebhookOptions): MiddlewareHandler<WebhookEnv> {
  const verify = createWebhookVerifier(verifierOptions);
  const toleranceMs = (verifierOptions.toleranceSeconds ?? 300) * 1000;

  return async (c, next) => {
    const body = await readBodyText(c, { maxBytes });
    const message = verify(body, c.req.header());
    c.set('webhookId', message.id);
    let payload: unknown;
    if (body.trim() !== '') {
      try {
        payload = JSON.parse(body);
      } catch (cause) {
        throw new PermanentError('webhook body is not valid JSON', { cause });
      }
    }

    const attempt = await claims.claim(message.id, {
      // after this the signature check refuses every message with this id
      expiresAt: new Date(message.timestamp.getTime() + toleranceMs + CLAIM_CLOCK_MARGIN_MS),
      staleAfterMs: claimStaleAfterMs,
    });
    if (attempt.kind === 'done') {
      c.set('eventOutcome', 'duplicate');
      return c.json(duplicateBody(message.id, attempt.answer.body), 200);
    }
    if (attempt.kind === 'running') {
      throw new TransientError(
        `webhook ${message.id} is being handled since ${attempt.since.toISOString()}; ask again for its result`,
        { status: 429, retryAfterSeconds: RUNNING_RETRY_AFTER_SECONDS },
      );
    }

    c.set('webhook', { ...message, payload });
    await next();
    if (c.res.status >= 200 && c.res.status < 300 && c.error === undefined) {
      // The command ran: its answer stands even if it cannot be recorded now (the claim then
      // stays running until it is stale, and replays wait for that).
      await claims
        .complete(attempt.claim, { status: c.res.status, body: await recordable(c.res) })
        .catch((err: unknown) => onClaimError(err, 'complete'));
    } else {
      // The sender's retry must run: never hide the handler's own answer behind this.
      await claims.release(attempt.claim).catch((err: unknown) => onClaimError(err, 'release'));
    }
  };
}
