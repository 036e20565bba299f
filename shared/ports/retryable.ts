// Port: the one retry vocabulary. Every adapter error says whether another attempt may succeed by
// declaring `retryable` (and, when the server said so, how long to wait), so the slice engine, the
// HTTP error mapping and the function handlers decide by contract, never by duck-typing a status
// or a class name. See docs/architecture.md R7. An error that escaped its adapter untranslated (a
// client library's own error) is recognised here, and only here, by `failedDependency`, so the
// HTTP mapping never answers a failed dependency with a 500.

import {
  isRetryableStatus,
  MAX_RETRY_AFTER_SECONDS,
  NETWORK_ERROR_CODES,
  NO_RESPONSE,
  RETRYABLE_STATUSES,
} from '../domain/retryable-status.ts';

export {
  isRetryableStatus,
  MAX_RETRY_AFTER_SECONDS,
  NETWORK_ERROR_CODES,
  NO_RESPONSE,
  RETRYABLE_STATUSES,
};

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

/** What {@link failedDependency} found: a dependency failed, and whether it said it may recover. */
export interface DependencyFailure {
  /** True when the dependency (or the network) said another attempt may succeed. */
  readonly retryable: boolean;
  /** The dependency's Retry-After in seconds, when it sent one. */
  readonly retryAfterSeconds: number | undefined;
}

type Loose = Record<string, unknown>;

/** A Retry-After header value in seconds (a number of seconds only; dates are ignored). */
function headerSeconds(headers: unknown): number | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const h = headers as Loose & { get?: unknown };
  const raw =
    typeof h.get === 'function'
      ? (h.get as (n: string) => unknown).call(h, 'retry-after')
      : (h['retry-after'] ?? h['Retry-After']);
  const v = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && raw !== null && raw !== '' && Number.isFinite(v) && v >= 0
    ? v
    : undefined;
}

const HTTP_STATUS = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 599;

/** gRPC status codes (0..16) a retry may outlive: CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE, UNAUTHENTICATED. */
const RETRYABLE_GRPC = new Set([1, 2, 4, 8, 10, 13, 14, 16]);

/** etcd3's error classes (they do not set `name`): GRPC...Error, Etcd...Error, ClientRuntimeError. */
const ETCD3_CLASS = /^(GRPC\w*|Etcd\w*|ClientRuntime|ClientClosed)Error$/;

/** One link of an error chain, judged on its own. */
function judgeOne(e: Loose): DependencyFailure | undefined {
  // rekey's own contract: every adapter error declares it
  if (typeof e.retryable === 'boolean') {
    return { retryable: e.retryable, retryAfterSeconds: retryAfterOf(e) };
  }
  // the network below HTTP/gRPC: Node's and undici's codes, TLS verification failures
  if (typeof e.code === 'string' && NETWORK_ERROR_CODES.has(e.code)) {
    return { retryable: true, retryAfterSeconds: undefined };
  }
  // fetch's own failure ("fetch failed", the reason in `cause`) and its timeouts
  if (e instanceof TypeError && e.message === 'fetch failed') {
    return { retryable: true, retryAfterSeconds: undefined };
  }
  if (e.name === 'TimeoutError') return { retryable: true, retryAfterSeconds: undefined };
  // an HTTP answer carried by a client library: @kubernetes/client-node's ApiException (`code`
  // and `body`), older clients' `statusCode`, the AWS SDK's `$metadata.httpStatusCode`
  const meta = e.$metadata as Loose | undefined;
  const status =
    HTTP_STATUS(e.code) && 'body' in e
      ? e.code
      : HTTP_STATUS(e.statusCode)
        ? e.statusCode
        : HTTP_STATUS(meta?.httpStatusCode)
          ? meta.httpStatusCode
          : undefined;
  if (status !== undefined) {
    return {
      retryable: isRetryableStatus(status) || e.$retryable !== undefined,
      retryAfterSeconds: headerSeconds(e.headers ?? (e.response as Loose | undefined)?.headers),
    };
  }
  // a gRPC status (google-gax, @grpc/grpc-js, etcd3): a numeric code with details and metadata
  if (typeof e.code === 'number' && 'details' in e && 'metadata' in e) {
    return { retryable: RETRYABLE_GRPC.has(e.code), retryAfterSeconds: undefined };
  }
  const ctor = (e as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof ctor === 'string' && ETCD3_CLASS.test(ctor)) {
    return { retryable: true, retryAfterSeconds: undefined };
  }
  return undefined;
}

/**
 * Whether `err` (or any error in its `cause` chain) is a dependency that failed: an adapter's
 * error declaring the Retryable contract, a network or TLS failure, fetch's "fetch failed", or a
 * client library's error carrying an HTTP or gRPC status. Undefined for anything else (a
 * programming error). The first link that says anything decides.
 *
 * @example failedDependency(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))
 * // { retryable: true, retryAfterSeconds: undefined }
 */
export function failedDependency(err: unknown): DependencyFailure | undefined {
  const seen = new Set<unknown>();
  for (let e = err; typeof e === 'object' && e !== null && !seen.has(e) && seen.size < 8; ) {
    seen.add(e);
    const found = judgeOne(e as Loose);
    if (found) return found;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
