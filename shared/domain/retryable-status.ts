// Which HTTP answers are worth another attempt (docs/architecture.md R7): the one table every
// caller uses (list and patch retries, the KMS adapters' fallback on a bare status, the k8s API
// errors). It lives in the domain so the pure patch classifier can read it; everything else
// imports it through shared/ports/retryable.ts, next to the Retryable contract.

/** Status 0: no HTTP answer at all (refused, reset, timed out), as rekey's REST client reports it. */
export const NO_RESPONSE = 0;

/**
 * Answers that say "not now" rather than "never": timeout (408), throttling (429, APF), and the
 * server or a gateway in trouble (500, 502, 503, 504). 501 and 505 stay permanent: the server
 * will not learn the method or the protocol by being asked again.
 */
export const RETRYABLE_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];

/**
 * Whether an HTTP status (or {@link NO_RESPONSE}) is worth retrying.
 *
 * @example isRetryableStatus(408) // true, for a list as for a patch
 */
export function isRetryableStatus(status: number): boolean {
  return status === NO_RESPONSE || RETRYABLE_STATUSES.includes(status);
}
