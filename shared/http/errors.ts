// Errors a function raises, and how each maps to an HTTP answer under Knative's retry rules
// (docs/architecture.md R11, docs/kms-facts.md §10): Knative retries 5xx, 404, 408, 409 and 429 and
// gives up on any other 4xx. So a permanent outcome is 400/413/415/422 (never 404/409); a sender
// that did not prove who it is gets 401/403; any failed dependency (an adapter's error declaring
// the Retryable contract, a network or TLS failure, a client library's error with an HTTP or gRPC
// status, anywhere in the `cause` chain: shared/ports/retryable.ts `failedDependency`) is 503 with
// Retry-After, or 429 when the handler says so; only what is none of these (a programming error)
// is a 500 that says nothing about internals.

import { HTTPException } from 'hono/http-exception';
import { z } from 'zod';
import { DomainError } from '../domain/errors.ts';
import { failedDependency, MAX_RETRY_AFTER_SECONDS, type Retryable } from '../ports/retryable.ts';

export { MAX_RETRY_AFTER_SECONDS };

/** The statuses a permanent rejection may use: 4xx codes Knative does not retry. */
export type PermanentStatus = 400 | 413 | 415 | 422;

/** The statuses a transient failure may use: codes Knative retries, honouring Retry-After. */
export type TransientStatus = 503 | 429;

/** The request can never succeed as sent; the sender must not retry it. */
export class PermanentError extends Error implements Retryable {
  override readonly name: string = 'PermanentError';
  readonly retryable = false;
  readonly status: PermanentStatus;

  constructor(message: string, options: { status?: PermanentStatus; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.status = options.status ?? 400;
  }
}

/** The body is larger than this endpoint accepts (413; Knative does not retry it). */
export class PayloadTooLargeError extends PermanentError {
  override readonly name = 'PayloadTooLargeError';

  constructor(maxBytes: number, options: { cause?: unknown } = {}) {
    super(`request body exceeds ${maxBytes} bytes`, { status: 413, cause: options.cause });
  }
}

/** Seconds a retryable failure asks the sender to wait when nothing more precise is known. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * Seconds asked for when a dependency refused rekey without saying it may recover (its RBAC
 * missing, a method it does not implement): someone has to act, so the sender comes back later
 * than for a blip, but comes back.
 */
export const REFUSED_RETRY_AFTER_SECONDS = 60;

/**
 * Whole seconds for a Retry-After header: rounded up, at most {@link MAX_RETRY_AFTER_SECONDS},
 * `fallback` when unknown or invalid.
 */
export function retryAfterHeader(
  seconds: number | undefined,
  fallback = DEFAULT_RETRY_AFTER_SECONDS,
): number {
  return seconds !== undefined && Number.isFinite(seconds) && seconds >= 0
    ? Math.min(MAX_RETRY_AFTER_SECONDS, Math.ceil(seconds))
    : fallback;
}

/** Worth retrying later: a dependency is down, throttled or busy. */
export class TransientError extends Error implements Retryable {
  override readonly name: string = 'TransientError';
  readonly retryable = true;
  readonly status: TransientStatus;
  /** Sent as Retry-After (whole seconds). */
  readonly retryAfterSeconds: number;

  constructor(
    message: string,
    options: {
      status?: TransientStatus;
      retryAfterSeconds?: number | undefined;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = options.status ?? 503;
    this.retryAfterSeconds = retryAfterHeader(options.retryAfterSeconds);
  }
}

/** The sender did not prove who it is (no, bad or expired credentials, bad signature). */
export class UnauthorizedError extends Error {
  override readonly name = 'UnauthorizedError';
  /** Sent as WWW-Authenticate when set (e.g. `Bearer`). */
  readonly challenge: string | undefined;

  constructor(message: string, options: { challenge?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.challenge = options.challenge;
  }
}

/** The sender is known but not allowed to send here. */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  /** A stable, machine-readable code. */
  error: string;
  /** A human-readable reason; never internals for unexpected errors. */
  message: string;
}

/** Everything needed to answer a request that failed. */
export interface HttpErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

const PERMANENT_CODES: Record<PermanentStatus, string> = {
  400: 'bad_request',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
};

/** Statuses Knative retries; a permanent HTTPException must not use them. */
const RETRIED_4XX = new Set([404, 408, 409, 429]);

function codeFor(status: number): string {
  if (status in PERMANENT_CODES) return PERMANENT_CODES[status as PermanentStatus];
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'too_many_requests';
  if (status === 503) return 'unavailable';
  return status >= 500 ? 'internal' : 'bad_request';
}

function zodSummary(err: z.core.$ZodError): string {
  const parts = err.issues
    .slice(0, 10)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return `invalid input: ${parts.join('; ')}`;
}

/**
 * Whether `err` already says how to answer it: a rejection of the request (permanent, 401, 403, a
 * domain refusal, invalid input) or a dependency that failed ({@link toHttpError} maps each).
 */
function isDecided(err: unknown): boolean {
  return (
    err instanceof PermanentError ||
    err instanceof TransientError ||
    err instanceof UnauthorizedError ||
    err instanceof ForbiddenError ||
    err instanceof DomainError ||
    err instanceof z.core.$ZodError ||
    failedDependency(err) !== undefined
  );
}

/**
 * For the work a handler hands to rekey's dependencies (a status read, a step, a record): rethrows
 * an error that already says how to answer, and turns any other (an answer of the cluster that is
 * not what was asked for, a store conflict) into a 503 with Retry-After, which every sender retries.
 *
 * @example deps.status().catch(retryLaterUnlessDecided('reading the status failed; retry later'))
 */
export function retryLaterUnlessDecided(message: string): (err: unknown) => never {
  return (err) => {
    if (isDecided(err)) throw err;
    throw new TransientError(message, { cause: err });
  };
}

/**
 * Maps any thrown value to a status, a JSON body and headers.
 *
 * @example toHttpError(new TransientError('etcd down', { retryAfterSeconds: 10 }))
 * // => { status: 503, body: { error: 'unavailable', message: 'etcd down' }, headers: { 'Retry-After': '10' } }
 */
export function toHttpError(err: unknown): HttpErrorResponse {
  if (err instanceof PermanentError) {
    return {
      status: err.status,
      body: { error: PERMANENT_CODES[err.status], message: err.message },
      headers: {},
    };
  }
  if (err instanceof TransientError) {
    const error = err.status === 429 ? 'too_many_requests' : 'unavailable';
    return {
      status: err.status,
      body: { error, message: err.message },
      headers: { 'Retry-After': String(err.retryAfterSeconds) },
    };
  }
  if (err instanceof UnauthorizedError) {
    const headers: Record<string, string> = err.challenge
      ? { 'WWW-Authenticate': err.challenge }
      : {};
    return { status: 401, body: { error: 'unauthorized', message: err.message }, headers };
  }
  if (err instanceof ForbiddenError) {
    return { status: 403, body: { error: 'forbidden', message: err.message }, headers: {} };
  }
  if (err instanceof DomainError) {
    return { status: 422, body: { error: 'unprocessable', message: err.message }, headers: {} };
  }
  if (err instanceof z.core.$ZodError) {
    return { status: 422, body: { error: 'unprocessable', message: zodSummary(err) }, headers: {} };
  }
  if (err instanceof HTTPException) {
    // Raised by hono or its middleware with a deliberate status; keep it unless Knative would
    // retry a rejection that can never succeed (404/408/409 become 400).
    const status = err.status !== 429 && RETRIED_4XX.has(err.status) ? 400 : err.status;
    const headers: Record<string, string> = {};
    if (status === 429 || status === 503) {
      headers['Retry-After'] = String(DEFAULT_RETRY_AFTER_SECONDS);
    }
    const message = status >= 500 ? 'internal error' : err.message || 'request rejected';
    return { status, body: { error: codeFor(status), message }, headers };
  }
  const failed = failedDependency(err);
  if (failed) {
    // A dependency failed (the apiserver, etcd, a KMS, the Broker): never the sender's fault, so
    // Knative retries it. Its message may name internals (endpoints, resource names, request
    // ids), so the answer says only that it is temporary.
    const wait = retryAfterHeader(
      failed.retryAfterSeconds,
      failed.retryable ? DEFAULT_RETRY_AFTER_SECONDS : REFUSED_RETRY_AFTER_SECONDS,
    );
    return {
      status: 503,
      body: { error: 'unavailable', message: 'temporarily unavailable, retry later' },
      headers: { 'Retry-After': String(wait) },
    };
  }
  return { status: 500, body: { error: 'internal', message: 'internal error' }, headers: {} };
}

/**
 * The HTTP status for a thrown value: permanent 400/413/415/422, retryable 503/429, 401, 403,
 * a failed dependency 503, otherwise 500. Never 404 or 409 for a permanent outcome.
 */
export function toHttpStatus(err: unknown): number {
  return toHttpError(err).status;
}
