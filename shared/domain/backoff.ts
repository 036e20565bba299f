// How long to wait before retrying a transient failure: exponential backoff with jitter, and never
// sooner than the server's Retry-After (APF 429s carry one), however long it is up to an hour
// (MAX_RETRY_AFTER_SECONDS). The callers' sleeps end with the step (its Lease or deadline), so a long
// Retry-After ends the step early rather than holding it. The random source is injected so the
// delay is a pure function of its inputs in tests.

import { MAX_RETRY_AFTER_SECONDS } from './retryable-status.ts';

/**
 * Inputs of {@link backoffDelayMs}. Callers forward their own optional settings and a Retry-After
 * that may be missing, so an undefined field means the default.
 */
export interface BackoffOptions {
  /** The attempt that just failed, counting from 1. */
  attempt: number;
  /** The server's Retry-After, in seconds, when it sent one. */
  retryAfterSeconds?: number | undefined;
  /** A source of numbers in [0, 1); `Math.random` by default. */
  random?: (() => number) | undefined;
  /** The first backoff step. */
  baseDelayMs?: number | undefined;
  /**
   * The exponential step never grows past this. A server's Retry-After is honoured beyond it (up to
   * MAX_RETRY_AFTER_SECONDS): waiting less than the server asked is retrying too soon.
   */
  maxDelayMs?: number | undefined;
}

/**
 * The delay before the next attempt: `base * 2^(attempt-1)` capped at `maxDelayMs`, of which the
 * upper half is random ("equal jitter": never less than half the step). With a Retry-After, at least
 * that long plus up to one base step of jitter, so clients told the same Retry-After spread out
 * (a Retry-After over an hour counts as an hour).
 *
 * @example backoffDelayMs({ attempt: 3, random: () => 0 }) // 1000 with the default 500 ms base
 */
export function backoffDelayMs({
  attempt,
  retryAfterSeconds,
  random = Math.random,
  baseDelayMs = 500,
  maxDelayMs = 30_000,
}: BackoffOptions): number {
  const r = clampUnit(random());
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const step = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(n - 1, 30));
  const jittered = step / 2 + (r * step) / 2;
  const told =
    retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0
      ? Math.min(MAX_RETRY_AFTER_SECONDS, retryAfterSeconds) * 1000 + r * baseDelayMs
      : 0;
  return Math.round(Math.max(jittered, told));
}

function clampUnit(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 0.999_999 : x;
}
