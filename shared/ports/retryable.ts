// Port: the one retry vocabulary. Every adapter error says whether another attempt may succeed by
// declaring `retryable` (and, when the server said so, how long to wait), so the slice engine, the
// HTTP error mapping and the function handlers decide by contract, never by duck-typing a status
// or a class name. See docs/architecture.md R7.

export { isRetryableStatus, NO_RESPONSE, RETRYABLE_STATUSES } from '../domain/retryable-status.ts';

/** What an error declares about retrying the operation that raised it. */
export interface Retryable {
  /** True when the same operation may succeed later (throttling, a dependency down or slow). */
  readonly retryable: boolean;
  /** The server's Retry-After, in seconds, when it sent one. */
  readonly retryAfterSeconds?: number | undefined;
}

/**
 * True only for an object that declares `retryable: true`: an error that declares nothing is not
 * retried, so a programming mistake is never retried as if it were a network blip.
 *
 * @example isRetryable(new AwsKmsTransientError('throttled', { code, operation })) // true
 */
export function isRetryable(err: unknown): err is Retryable & { retryable: true } {
  return (
    typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true
  );
}

/** The Retry-After a retryable error carries (seconds, finite, not negative), else undefined. */
export function retryAfterOf(err: unknown): number | undefined {
  if (!isRetryable(err)) return undefined;
  const s = err.retryAfterSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s >= 0 ? s : undefined;
}
