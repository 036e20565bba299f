// Who may send CloudEvents (Knative sender identity, feature `authentication-oidc`): the sender's
// `Authorization: Bearer <jwt>` is checked with a TokenReview against the apiserver for rekey's
// audience, then its ServiceAccount is matched against an allow-list. Missing or rejected token
// => 401, a ServiceAccount not on the list => 403, the apiserver unreachable => 503 (retry).
// Answers are cached under the token's sha256, never the token itself: a sender for 60 s, a
// refusal for 10 s, so a refused token sent again costs no TokenReview. TokenReviews themselves
// are rate-limited (a token bucket, default 10/s, bursts of 20) and concurrent reviews of one
// token share one call: past the limit an unknown token is answered 429 with Retry-After without
// asking the apiserver, so a flood of bad tokens cannot turn into a flood of TokenReviews. Senders
// already cached are never limited.

import { createHash } from 'node:crypto';
import type { AuthenticationV1Api } from '@kubernetes/client-node';
import type { MiddlewareHandler } from 'hono';
import { ConfigError } from '../config/config.ts';
import {
  isServiceAccountUsername,
  SERVICE_ACCOUNT_USERNAME_FORMAT,
} from '../config/setting-formats.ts';
import { retryAfterOf } from '../ports/retryable.ts';
import type { RekeyEnv, SenderIdentity } from './env.ts';
import { ForbiddenError, TransientError, UnauthorizedError } from './errors.ts';
import { TtlLru } from './ttl-lru.ts';

/** The TokenReview status fields rekey reads. */
export interface TokenReviewResult {
  authenticated?: boolean;
  audiences?: string[];
  error?: string;
  user?: { username?: string; uid?: string; groups?: string[] };
}

/** Asks the apiserver about a token: a TokenReview `spec` in, its `status` out. */
export type ReviewToken = (spec: {
  token: string;
  audiences: string[];
}) => Promise<TokenReviewResult>;

/** Decides who sent a request from its Authorization header. */
export interface Authenticator {
  /**
   * The sender's identity, or UnauthorizedError (401), ForbiddenError (403) or
   * TransientError (503) when the apiserver cannot answer.
   */
  authenticate(authorization: string | undefined): Promise<SenderIdentity>;
  /** Non-secret settings for `/readyz` (audience, allowed senders). */
  describe(): Record<string, unknown>;
}

/** Options of {@link createTokenReviewAuthenticator}. */
export interface TokenReviewAuthenticatorOptions {
  /** The audience Knative mints sender tokens for (the sink's `status.address.audience`). */
  audience: string;
  /** Allowed senders, each `system:serviceaccount:<namespace>:<name>`. */
  allowedSenders: readonly string[];
  /** The TokenReview call; {@link tokenReviewerFor} builds it from the TokenReview API. */
  reviewToken: ReviewToken;
  /** How long a positive answer is reused (default 60 s; never past the token's `exp`). */
  cacheTtlMs?: number;
  /** How long a refusal (401, 403) is reused (default 10 s): short, it costs nothing to ask again. */
  refusalTtlMs?: number;
  /** Most cached answers (default 1,000). */
  cacheMaxEntries?: number;
  /** TokenReviews per second in the long run (default 10). */
  reviewsPerSecond?: number;
  /** TokenReviews allowed at once after a quiet spell (default 20). */
  reviewBurst?: number;
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/** A sender-auth setting that can never work (raised at start-up: exit 2, like any setting). */
export class SenderAuthConfigError extends ConfigError {
  override readonly name = 'SenderAuthConfigError';
}

/** A refusal remembered for a token: answered again as it was, without a TokenReview. */
type Refusal = { refused: UnauthorizedError | ForbiddenError };

/**
 * A token bucket: `take()` spends one token when there is one, else says how many ms until the
 * next. Refilled from the clock on every call, so it needs no timer.
 */
function tokenBucket(perSecond: number, burst: number, now: () => number) {
  let tokens = burst;
  let at = now();
  return {
    take(): number {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - at) / 1000) * perSecond);
      at = t;
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return Math.ceil(((1 - tokens) / perSecond) * 1000);
    },
  };
}

const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i;
const MAX_TOKEN_CHARS = 16 * 1024;

/** The `exp` claim in milliseconds, read without verification and used only to shorten caching. */
function expiryMs(token: string): number | undefined {
  try {
    const payload = token.split('.')[1];
    if (payload === undefined) return undefined;
    const exp = (
      JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }
    ).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An {@link Authenticator} backed by TokenReview and a ServiceAccount allow-list.
 *
 * @example
 * const auth = createTokenReviewAuthenticator({
 *   audience: 'rekey-kms-event',
 *   allowedSenders: ['system:serviceaccount:knative-eventing:mt-broker-filter'],
 *   reviewToken: tokenReviewerFor(typedApi(rest).authentication),
 * });
 */
export function createTokenReviewAuthenticator({
  audience,
  allowedSenders,
  reviewToken,
  cacheTtlMs = 60_000,
  refusalTtlMs = 10_000,
  cacheMaxEntries = 1_000,
  reviewsPerSecond = 10,
  reviewBurst = 20,
  now = Date.now,
}: TokenReviewAuthenticatorOptions): Authenticator {
  // the settings schema refuses these first, naming REKEY_SENDER_AUDIENCE / REKEY_ALLOWED_SENDERS
  if (audience.trim() === '') throw new SenderAuthConfigError('sender auth needs an audience');
  if (allowedSenders.length === 0) {
    throw new SenderAuthConfigError('sender auth needs at least one allowed sender');
  }
  for (const s of allowedSenders) {
    if (!isServiceAccountUsername(s)) {
      throw new SenderAuthConfigError(
        `allowed sender ${JSON.stringify(s)} is not ${SERVICE_ACCOUNT_USERNAME_FORMAT}`,
      );
    }
  }
  if (!(reviewsPerSecond > 0) || !(reviewBurst >= 1)) {
    throw new SenderAuthConfigError('sender auth needs a positive TokenReview rate and burst');
  }
  const allowed = new Set(allowedSenders);
  const cache = new TtlLru<SenderIdentity | Refusal>({ maxEntries: cacheMaxEntries, now });
  const bucket = tokenBucket(reviewsPerSecond, reviewBurst, now);
  const inFlight = new Map<string, Promise<TokenReviewResult>>();

  /** One TokenReview per token at a time, within the rate; the others wait for its answer. */
  const review = (key: string, token: string): Promise<TokenReviewResult> => {
    const pending = inFlight.get(key);
    if (pending) return pending;
    const waitMs = bucket.take();
    if (waitMs > 0) {
      throw new TransientError('too many unknown sender tokens; retry later', {
        status: 429,
        retryAfterSeconds: waitMs / 1000,
      });
    }
    const call = (async () => {
      try {
        return await reviewToken({ token, audiences: [audience] });
      } catch (cause) {
        if (cause instanceof TransientError) throw cause;
        // not the sender's fault whatever the reason (even rekey's own RBAC): a 503 Knative retries
        throw new TransientError('cannot review the sender token now', {
          cause,
          retryAfterSeconds: retryAfterOf(cause),
        });
      } finally {
        inFlight.delete(key);
      }
    })();
    inFlight.set(key, call);
    return call;
  };
  const refuse = (key: string, refused: UnauthorizedError | ForbiddenError): never => {
    cache.set(key, { refused }, refusalTtlMs);
    throw refused;
  };

  return {
    describe: () => ({ audience, allowedSenders: [...allowed] }),

    async authenticate(authorization) {
      const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
      if (token === undefined || token.length > MAX_TOKEN_CHARS) {
        throw new UnauthorizedError('a bearer token is required', { challenge: 'Bearer' });
      }
      const key = createHash('sha256').update(token).digest('hex');
      const cached = cache.get(key);
      if (cached !== undefined) {
        if ('refused' in cached) throw cached.refused;
        return cached;
      }

      const status = await review(key, token);
      if (status.authenticated !== true) {
        refuse(
          key,
          new UnauthorizedError('the bearer token was not accepted', {
            challenge: 'Bearer',
            cause: status.error,
          }),
        );
      }
      // An audience-unaware authenticator may answer without audiences; that is not good enough.
      if (!status.audiences?.includes(audience)) {
        refuse(
          key,
          new UnauthorizedError(`the bearer token is not for audience ${audience}`, {
            challenge: 'Bearer',
          }),
        );
      }
      const username = status.user?.username ?? '';
      if (!allowed.has(username)) {
        refuse(key, new ForbiddenError(`sender ${username || '(unnamed)'} is not allowed`));
      }
      const identity: SenderIdentity = { username };
      if (status.user?.uid) identity.uid = status.user.uid;
      if (status.user?.groups) identity.groups = [...status.user.groups];

      const exp = expiryMs(token);
      const ttl = Math.min(cacheTtlMs, exp === undefined ? cacheTtlMs : exp - now());
      if (ttl > 0) cache.set(key, identity, ttl);
      return identity;
    },
  };
}

/**
 * A {@link ReviewToken} over the TokenReview API (typed-api.ts, or client-node's
 * AuthenticationV1Api); the function's ServiceAccount needs `create` on `tokenreviews`
 * (infra/components/sender-identity/rbac-tokenreview.yaml).
 */
export function tokenReviewerFor(api: Pick<AuthenticationV1Api, 'createTokenReview'>): ReviewToken {
  return async ({ token, audiences }) => {
    const review = await api.createTokenReview({
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences },
      },
    });
    return review.status ?? {};
  };
}

/**
 * Middleware that authenticates the sender and leaves it on `c.var.sender`.
 *
 * @example app.use('/kms-event', requireSender(auth));
 */
export function requireSender(auth: Authenticator): MiddlewareHandler<RekeyEnv> {
  return async (c, next) => {
    c.set('sender', await auth.authenticate(c.req.header('authorization')));
    await next();
  };
}
