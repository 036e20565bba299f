// Cloud KMS failures in rekey's vocabulary, decided at the boundary from the gRPC status `code`
// google-gax puts on every error: retryable (retry later; the step reports Degraded meanwhile) or
// permanent (the call can never succeed as made: fix the name, the IAM binding or the key state).
// Both declare it through shared/ports/retryable.ts, so callers never test class names.
import { status } from '@grpc/grpc-js';
import type { Retryable } from '../../ports/retryable.ts';

/** Retrying later may succeed: the service is down, slow, throttled or briefly inconsistent. */
const TRANSIENT = new Set<number>([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.INTERNAL,
  status.ABORTED,
  // Not in Google's retry table, but seen when a connection drops mid-call or the server
  // answers without a status; neither says anything about the request itself.
  status.CANCELLED,
  status.UNKNOWN,
]);

/**
 * Errors of the network below gRPC (e.g. while Application Default Credentials reach the metadata
 * server), which carry a string `code` rather than a gRPC status.
 */
const TRANSIENT_NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

const MAX_DETAIL = 300;

export interface GcpKmsErrorOptions {
  /** The gRPC status name, e.g. `NOT_FOUND`; `UNKNOWN` when the error carried none. */
  code: string;
  /** The RPC that failed, e.g. `GetCryptoKey`. */
  operation: string;
  /** The resource the call named. */
  resource: string;
  cause?: unknown;
}

/** Base of the adapter's errors; `code` is the gRPC status name. */
export class GcpKmsError extends Error implements Retryable {
  override readonly name: string = 'GcpKmsError';
  readonly retryable: boolean = false;
  readonly code: string;
  readonly operation: string;
  readonly resource: string;

  constructor(message: string, { code, operation, resource, cause }: GcpKmsErrorOptions) {
    super(message, { cause });
    this.code = code;
    this.operation = operation;
    this.resource = resource;
  }
}

/** Worth retrying later (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, ABORTED...). */
export class GcpKmsTransientError extends GcpKmsError {
  override readonly name = 'GcpKmsTransientError';
  override readonly retryable = true;
}

/**
 * The call cannot succeed as made (NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT,
 * FAILED_PRECONDITION e.g. a destroyed version, UNAUTHENTICATED...): never retried.
 */
export class GcpKmsPermanentError extends GcpKmsError {
  override readonly name = 'GcpKmsPermanentError';
}

function grpcCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const { code } = err;
  return typeof code === 'number' && Number.isInteger(code) && status[code] !== undefined
    ? code
    : undefined;
}

function stringCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** The server's own words when gRPC gives them, clipped (gax appends every retried error). */
function detailOf(err: unknown): string {
  let text: string;
  if (
    typeof err === 'object' &&
    err !== null &&
    'details' in err &&
    typeof err.details === 'string' &&
    err.details !== ''
  ) {
    text = err.details;
  } else {
    text = err instanceof Error ? err.message : String(err);
  }
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL)}...` : line;
}

/** Whether a gRPC status code is worth retrying. */
export function isRetryableGrpcCode(code: number): boolean {
  return TRANSIENT.has(code);
}

/**
 * Translates whatever the client library threw into a GcpKmsError. A gRPC status decides; an error
 * without one is retryable only when it is a network failure, otherwise permanent (e.g. no
 * Application Default Credentials: retrying will not make them appear).
 */
export function toGcpKmsError(err: unknown, operation: string, resource: string): GcpKmsError {
  if (err instanceof GcpKmsError) return err;
  const grpcCode = grpcCodeOf(err);
  const netCode = stringCodeOf(err);
  const code = grpcCode !== undefined ? (status[grpcCode] ?? 'UNKNOWN') : (netCode ?? 'UNKNOWN');
  const message = `Cloud KMS ${operation} ${resource}: ${code}: ${detailOf(err)}`;
  const options = { code, operation, resource, cause: err };
  const retryable =
    grpcCode !== undefined
      ? isRetryableGrpcCode(grpcCode)
      : netCode !== undefined && TRANSIENT_NETWORK.has(netCode);
  return retryable
    ? new GcpKmsTransientError(message, options)
    : new GcpKmsPermanentError(message, options);
}
