// Whether a key-id report still speaks for its node. A report is written when what it says
// changes; between changes its reporter renews a liveness time (a Lease). The later of the two is
// when the reporter last confirmed the report. It is fresh only within a maximum age, and never
// when it lies in the future beyond a small clock skew: a date ahead of now (a node clock running
// fast, a hand-written report) would otherwise stay fresh for as long as it is ahead, forever for
// a year-3000 date, and keep a reporter that has stopped counting as live.

/** How old a report's last confirmation may be (the reporter confirms every 15 s by default). */
export const REPORT_MAX_AGE_MS = 5 * 60_000;
/** How far ahead of rekey's clock a confirmation may be dated and still count (clock skew). */
export const REPORT_FUTURE_SKEW_MS = 30_000;

export type ReportFreshness = 'fresh' | 'stale' | 'future' | 'undated';

export interface FreshnessLimits {
  maxAgeMs?: number;
  skewMs?: number;
}

/**
 * The later of the given times (ISO 8601), as milliseconds; times that do not parse are left out.
 * `undefined` when none parses.
 */
export function lastConfirmedMs(...times: ReadonlyArray<string | undefined>): number | undefined {
  let last: number | undefined;
  for (const t of times) {
    const ms = t === undefined ? Number.NaN : Date.parse(t);
    if (!Number.isNaN(ms) && (last === undefined || ms > last)) last = ms;
  }
  return last;
}

/** How a confirmation at `confirmedMs` stands at `nowMs`. Only `'fresh'` may be acted on. */
export function reportFreshness(
  confirmedMs: number | undefined,
  nowMs: number,
  { maxAgeMs = REPORT_MAX_AGE_MS, skewMs = REPORT_FUTURE_SKEW_MS }: FreshnessLimits = {},
): ReportFreshness {
  if (confirmedMs === undefined || Number.isNaN(confirmedMs)) return 'undated';
  if (confirmedMs - nowMs > skewMs) return 'future';
  return nowMs - confirmedMs <= maxAgeMs ? 'fresh' : 'stale';
}
