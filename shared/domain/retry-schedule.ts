// When a Degraded revision's refused and offending objects are re-patched (docs/architecture.md
// R13): a backoff across steps, stored on the revision, so ticks and continuations that arrive
// every few seconds do not hammer an admission webhook that said no, yet a cause that goes away
// (a policy lifted, an object unstuck) is found without anyone forcing a rewrite. Pure: the time
// and the random source are inputs.
import { backoffDelayMs } from './backoff.ts';

/** The retry state of one revision. Times are ISO 8601. */
export interface RetrySchedule {
  /** Retry passes run so far. */
  attempt: number;
  /** No pass runs before this time. */
  at: string;
}

/** The first delay step; each pass doubles it (with jitter), up to {@link RETRY_MAX_MS}. */
export const RETRY_BASE_MS = 30_000;
/** The longest wait between two passes: a lifted policy is found within it. */
export const RETRY_MAX_MS = 30 * 60_000;

function delayFor(attempt: number, random: (() => number) | undefined): number {
  return backoffDelayMs({
    attempt,
    baseDelayMs: RETRY_BASE_MS,
    maxDelayMs: RETRY_MAX_MS,
    ...(random ? { random } : {}),
  });
}

/** The schedule of a revision that just became Degraded for objects: no pass yet. */
export function firstRetry(now: Date, random?: () => number): RetrySchedule {
  return { attempt: 0, at: new Date(now.getTime() + delayFor(1, random)).toISOString() };
}

/** The schedule after a pass at `now`. */
export function afterRetry(
  previous: RetrySchedule | undefined,
  { now, random }: { now: Date; random?: () => number },
): RetrySchedule {
  const attempt = (previous?.attempt ?? 0) + 1;
  return { attempt, at: new Date(now.getTime() + delayFor(attempt + 1, random)).toISOString() };
}

/** Whether a pass may run at `now`: only once one is scheduled and its time has come. */
export function retryDue(schedule: RetrySchedule | undefined, now: Date): boolean {
  if (schedule === undefined) return false;
  const at = Date.parse(schedule.at);
  return Number.isNaN(at) || now.getTime() >= at;
}

/** A stored schedule read back, or undefined when it is not one (a damaged annotation). */
export function parseRetrySchedule(value: unknown): RetrySchedule | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { attempt, at } = value as Record<string, unknown>;
  if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 0)
    return undefined;
  if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) return undefined;
  return { attempt, at };
}
