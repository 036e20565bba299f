// What one no-op patch attempt means for the migration (docs/kms-facts.md §2, docs/architecture.md
// R4, R7). The adapter reports the raw HTTP result; this decides: done, failed for good, or retry
// later, retrying exactly the statuses a list is retried on (retryable-status.ts). A transient
// answer that outlasts the attempts is `exhausted`, never a failure: a brownout of a few seconds
// must not fail objects for good, so the page is left for a later step instead.
//
// 410 Gone is deliberately absent: it answers a LIST with an expired continue token, a list-level
// event (restart or continue the listing), never the outcome of one object's patch. A 410 here is
// unexpected and is classified like any other unknown 4xx: a per-object failure.

import { backoffDelayMs } from './backoff.ts';
import { oneLine } from './format.ts';
import { isRetryableStatus } from './retryable-status.ts';

/** The raw result of one no-op patch, as an adapter saw it. `status` 0 = no HTTP response. */
export type PatchAttempt =
  | { ok: true; before: string; after: string }
  | {
      ok: false;
      status: number;
      reason?: string;
      message?: string;
      retryAfterSeconds?: number;
    };

/**
 * The verdict on one object: `reencrypted` (resourceVersion changed), `unchanged` (already under
 * the current key), `conflict` (409) and `gone` (404) are done; `failed` (a permanent refusal) is
 * recorded by name; `retry` asks to try again after that many milliseconds; `exhausted` says the
 * attempts ran out on transient answers: not done, not failed, to be tried on a later step.
 */
export type RewriteOutcome =
  | 'reencrypted'
  | 'unchanged'
  | 'conflict'
  | 'gone'
  | { failed: string }
  | { retry: number }
  | { exhausted: string };

/** Options of {@link classifyPatch}. */
export interface ClassifyOptions {
  /** The attempt this result belongs to, counting from 1. */
  attempt?: number;
  /** After this many attempts, a transient answer ends the attempts as `exhausted`. */
  maxAttempts?: number;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const WEBHOOK_DENIAL = /admission webhook "([^"]+)" denied the request:?\s*(.*)/s;
const POLICY_DENIAL = /ValidatingAdmissionPolicy '([^']+)'.*?denied request:?\s*(.*)/s;

/**
 * Classifies one patch result.
 *
 * @example classifyPatch({ ok: false, status: 429, retryAfterSeconds: 2 }, { random: () => 0 })
 * // { retry: 2000 }
 */
export function classifyPatch(result: PatchAttempt, options: ClassifyOptions = {}): RewriteOutcome {
  if (result.ok) return result.after === result.before ? 'unchanged' : 'reencrypted';
  if (result.status === 409) return 'conflict';
  if (result.status === 404) return 'gone';
  if (!isRetryableStatus(result.status)) return { failed: failureReason(result) };
  const { attempt = 1, maxAttempts = 5, random, baseDelayMs, maxDelayMs } = options;
  if (attempt >= maxAttempts) {
    return { exhausted: `${describe(result)} (${attempt} attempts)` };
  }
  return {
    retry: backoffDelayMs({
      attempt,
      retryAfterSeconds: result.retryAfterSeconds,
      random,
      baseDelayMs,
      maxDelayMs,
    }),
  };
}

/** Whether an outcome means this pass is done with the object (done, or refused for good). */
export function isFinal(outcome: RewriteOutcome): boolean {
  return typeof outcome === 'string' || 'failed' in outcome;
}

type Failure = Extract<PatchAttempt, { ok: false }>;

/** A short reason for a permanent failure; admission denials name the webhook or policy. */
function failureReason(result: Failure): string {
  const message = result.message ?? '';
  const webhook = WEBHOOK_DENIAL.exec(message);
  if (webhook) return withDetail(`denied by admission webhook "${webhook[1]}"`, webhook[2]);
  const policy = POLICY_DENIAL.exec(message);
  if (policy) return withDetail(`denied by ValidatingAdmissionPolicy "${policy[1]}"`, policy[2]);
  if (result.status === 403) return withDetail('forbidden', message || result.reason);
  if (result.status === 422) return withDetail('invalid', message || result.reason);
  if (result.status === 400) return withDetail('bad request', message || result.reason);
  return describe(result);
}

function describe(result: Failure): string {
  const head =
    result.status === 0
      ? 'no response'
      : `HTTP ${result.status}${result.reason ? ` ${result.reason}` : ''}`;
  return withDetail(head, result.message);
}

function withDetail(head: string, detail: string | undefined): string {
  const text = detail ? oneLine(detail, { max: 120 }) : '';
  return text ? `${head}: ${text}` : head;
}
