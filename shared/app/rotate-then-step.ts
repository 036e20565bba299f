// The webhook's `rotate`: the cloud rotates the key, then one step observes and records the new
// key_id. A failed rotation the KMS adapter declares retryable (throttled, unavailable) is a 503
// with Retry-After, so Knative or the caller tries again; any other can never succeed as sent, a
// 422 (docs/architecture.md R11). The step does not run after a failed rotation.
// Once the rotation succeeded, the answer is a success whatever the step does: a retry of the
// request would rotate again (on-demand rotations are quota-limited), while the step only hurries
// what the next trigger or tick does anyway. A failed step is reported in the answer instead.
// A failed rotation's answer names the KMS's error code only: the KMS's own words can name the
// cloud identity rekey runs as and the policies it lacks (an AWS AccessDeniedException carries the
// role's ARN), which the caller, however well it signed, has no need of. They go to the log.
import type { KmsRotator } from '../adapters/kms-rotator.ts';
import { PermanentError, TransientError } from '../http/errors.ts';
import { isRetryable, retryAfterOf } from '../ports/retryable.ts';

/** The step after a rotation, when it failed: the next trigger or tick runs it. */
export interface StepNotRun {
  kind: 'not-run';
  reason: string;
}

/** What of a failed rotation the caller is told: the KMS's error code, or the error's kind. */
function publicReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) return code;
  return err instanceof Error ? err.name : 'an error';
}

export function rotateThenStep<S>(
  rotator: KmsRotator,
  step: () => Promise<S>,
  {
    onStepError = () => {},
    onRotateError = () => {},
  }: { onStepError?: (err: unknown) => void; onRotateError?: (err: unknown) => void } = {},
): () => Promise<{ key: string; current: string; step: S | StepNotRun }> {
  return async () => {
    const rotated = await rotator.rotate().catch((err: unknown) => {
      onRotateError(err);
      const message = `rotate: the KMS answered ${publicReason(err)} (its words are in rekey's log)`;
      if (isRetryable(err)) {
        throw new TransientError(message, { retryAfterSeconds: retryAfterOf(err), cause: err });
      }
      throw new PermanentError(message, { status: 422, cause: err });
    });
    try {
      return { ...rotated, step: await step() };
    } catch (err) {
      onStepError(err);
      return {
        ...rotated,
        step: {
          kind: 'not-run',
          reason: 'the step after the rotation failed; the next trigger or tick runs it',
        },
      };
    }
  };
}
