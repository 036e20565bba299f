// The webhook's `rotate`: the cloud rotates the key, then one step observes and records the new
// key_id. A failed rotation the KMS adapter declares retryable (throttled, unavailable) is a 503
// with Retry-After, so Knative or the caller tries again; any other can never succeed as sent, a
// 422 (docs/architecture.md R11). The step does not run after a failed rotation.
import type { KmsRotator } from '../adapters/kms-rotator.ts';
import { PermanentError, TransientError } from '../http/errors.ts';
import { isRetryable, retryAfterOf } from '../ports/retryable.ts';

export function rotateThenStep<S>(
  rotator: KmsRotator,
  step: () => Promise<S>,
): () => Promise<{ key: string; current: string; step: S }> {
  return async () => {
    const rotated = await rotator.rotate().catch((err: unknown) => {
      const message = `rotate: ${(err as Error).message}`;
      if (isRetryable(err)) {
        throw new TransientError(message, { retryAfterSeconds: retryAfterOf(err), cause: err });
      }
      throw new PermanentError(message, { status: 422, cause: err });
    });
    return { ...rotated, step: await step() };
  };
}
