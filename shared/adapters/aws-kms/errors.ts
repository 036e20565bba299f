// The AWS KMS boundary's errors: every SDK failure leaves this adapter as a retryable error (retry
// later: throttling, 5xx, network, KMS internal trouble) or a permanent one (the key is gone,
// disabled, in the wrong state, access denied, a bad request), in rekey's one retry vocabulary
// (shared/ports/retryable.ts). Nothing outside sees SDK errors.
import { isRetryableStatus, NETWORK_ERROR_CODES, type Retryable } from '../../ports/retryable.ts';

/** Base of the adapter's errors; `code` is the AWS error name (or network code) that decided it. */
export class AwsKmsError extends Error implements Retryable {
  override readonly name: string = 'AwsKmsError';
  /** AWS error name (`NotFoundException`), Node network code (`ECONNREFUSED`) or adapter code. */
  readonly code: string;
  /** The KMS operation that failed (`DescribeKey`). */
  readonly operation: string;
  readonly httpStatusCode: number | undefined;
  readonly requestId: string | undefined;
  readonly retryable: boolean = false;

  constructor(
    message: string,
    options: {
      code: string;
      operation: string;
      httpStatusCode?: number | undefined;
      requestId?: string | undefined;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.operation = options.operation;
    this.httpStatusCode = options.httpStatusCode;
    this.requestId = options.requestId;
  }
}

/** Retrying later may succeed: throttling, 5xx, network trouble, KMS internal errors. */
export class AwsKmsTransientError extends AwsKmsError {
  override readonly name = 'AwsKmsTransientError';
  override readonly retryable = true;
}

/** Retrying will not help until someone changes the key, its policy or the request. */
export class AwsKmsPermanentError extends AwsKmsError {
  override readonly name = 'AwsKmsPermanentError';
}

// AWS error names worth a retry. ConflictException: an automatic rotation is running or due within
// 20 minutes, so RotateKeyOnDemand succeeds later. ExpiredTokenException: the default chain refreshes
// web-identity (IRSA) and instance credentials, so the next attempt carries fresh ones.
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'ConflictException',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ExpiredTokenException',
]);

const PERMANENT_NAMES = new Set([
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  'AccessDeniedException',
  'AccessDenied',
  'ValidationException',
  'UnsupportedOperationException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'InvalidArnException',
  'InvalidMarkerException',
  'InvalidGrantTokenException',
  'LimitExceededException', // a quota (e.g. 25 on-demand rotations per key), not a request rate
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'CredentialsProviderError',
]);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
  $retryable?: unknown;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function classify(
  name: string | undefined,
  networkCode: string | undefined,
  status: number | undefined,
  retryable: boolean,
): boolean {
  if (name && PERMANENT_NAMES.has(name)) return false;
  if (name && TRANSIENT_NAMES.has(name)) return true;
  if (networkCode && NETWORK_ERROR_CODES.has(networkCode)) return true;
  if (status !== undefined) return isRetryableStatus(status);
  return retryable;
}

/**
 * Translates anything the KMS SDK threw into an AwsKmsTransientError or AwsKmsPermanentError.
 * Decided by the AWS error `name`, then a Node network `code`, then `$metadata.httpStatusCode`
 * (retryable exactly when shared/ports/retryable.ts says so); an error with none of these (a
 * programming or configuration mistake such as a missing region) is permanent.
 *
 * @example
 * try { await kms.send(cmd) } catch (err) { throw toAwsKmsError(err, 'DescribeKey') }
 */
export function toAwsKmsError(err: unknown, operation: string): AwsKmsError {
  if (err instanceof AwsKmsError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const rawName = str(e.name);
  const name = rawName === 'Error' ? undefined : rawName;
  const networkCode = str(e.code);
  const rawStatus = e.$metadata?.httpStatusCode;
  const status = typeof rawStatus === 'number' ? rawStatus : undefined;
  const retryable = classify(name, networkCode, status, e.$retryable !== undefined);
  const code = name ?? networkCode ?? (status !== undefined ? `HTTP${status}` : 'Unknown');
  const detail = str(e.message) ?? (err instanceof Error ? '' : String(err));
  const message = `AWS KMS ${operation}: ${code}${detail ? `: ${detail}` : ''}`;
  const options = {
    code,
    operation,
    httpStatusCode: status,
    requestId: str(e.$metadata?.requestId),
    cause: err,
  };
  return retryable
    ? new AwsKmsTransientError(message, options)
    : new AwsKmsPermanentError(message, options);
}

/** Runs one SDK call and maps its failure at the boundary. */
export async function mapped<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toAwsKmsError(err, operation);
  }
}
