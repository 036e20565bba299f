// Which HTTP answers are worth another attempt (docs/architecture.md R7): the one table every
// caller uses (list and patch retries, the KMS adapters' fallback on a bare status, the k8s API
// errors). It lives in the domain so the pure patch classifier can read it; everything else
// imports it through shared/ports/retryable.ts, next to the Retryable contract.

/** Status 0: no HTTP answer at all (refused, reset, timed out), as rekey's REST client reports it. */
export const NO_RESPONSE = 0;

/**
 * Answers that say "not now" rather than "never": timeout (408), throttling (429, APF), the
 * server or a gateway in trouble (500, 502, 503, 504), and 401 from a dependency: rekey's own
 * credentials were refused, which is what a projected ServiceAccount token (or a cloud credential)
 * looks like while it rotates; the client reloads them and the next attempt carries fresh ones.
 * 501 and 505 stay permanent: the server will not learn the method or the protocol by being asked
 * again. (A 401 rekey *answers* a sender is another matter: shared/http/errors.ts.)
 */
export const RETRYABLE_STATUSES: readonly number[] = [401, 408, 429, 500, 502, 503, 504];

/**
 * Error codes of the network below HTTP or gRPC (Node's `err.code`, undici's `cause.code`, TLS
 * verification codes): the dependency was not reached or did not answer, so the request itself
 * says nothing about whether it could succeed. Always worth another attempt.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPROTO',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/**
 * Whether an HTTP status (or {@link NO_RESPONSE}) is worth retrying.
 *
 * @example isRetryableStatus(408) // true, for a list as for a patch
 */
export function isRetryableStatus(status: number): boolean {
  return status === NO_RESPONSE || RETRYABLE_STATUSES.includes(status);
}

/**
 * The longest Retry-After rekey honours, in seconds (one hour), waiting in a step as in the
 * Retry-After it answers its own senders (shared/http/errors.ts). A dependency that asks for
 * longer gets this: beyond an hour the value is more likely a bug, or a date read as seconds, than
 * a real wish, and an event parked for hours is worse than one more refused attempt.
 */
export const MAX_RETRY_AFTER_SECONDS = 3600;
