// The Vault / OpenBao boundary's errors in rekey's one retry vocabulary (shared/ports/retryable.ts):
// retryable when the server is down, sealed, throttling or unreachable; permanent otherwise (no such
// key, permission denied, a bad request). A message names the operation, the status and Vault's
// own error text, never the token.
import { isRetryableStatus, NO_RESPONSE, type Retryable } from '../../ports/retryable.ts';

export class VaultTransitError extends Error implements Retryable {
  override readonly name = 'VaultTransitError';
  /** The operation that failed, e.g. `rotate transit/keys/kms`. */
  readonly operation: string;
  /** The HTTP status, or 0 when no answer came (refused, reset, timed out). */
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    message: string,
    options: { operation: string; status: number; retryAfterSeconds?: number; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.operation = options.operation;
    this.status = options.status;
    // 412: a performance standby has not caught up yet (Vault's own advice is to retry)
    this.retryable = isRetryableStatus(options.status) || options.status === 412;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

const MAX_DETAIL = 300;

/** Vault answers errors as `{"errors": ["..."]}`; anything else is shown cut short. */
export function vaultErrorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: unknown };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      return parsed.errors.map(String).join('; ').slice(0, MAX_DETAIL);
    }
  } catch {
    // not JSON
  }
  return body.trim().slice(0, MAX_DETAIL) || '(no body)';
}

export function noAnswer(operation: string, address: string, cause: unknown): VaultTransitError {
  const c = (cause as { cause?: { code?: string; message?: string } }).cause;
  const why = c?.code ?? c?.message ?? (cause as Error).message;
  return new VaultTransitError(`${operation}: no answer from ${address}: ${why}`, {
    operation,
    status: NO_RESPONSE,
    cause,
  });
}
