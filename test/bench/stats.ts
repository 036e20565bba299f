// Small order statistics for bench figures: medians across runs, percentiles within one run.

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);

/** The middle value (the upper one of two for an even count); NaN for no values. */
export function median(xs: readonly number[]): number {
  return sorted(xs)[Math.floor(xs.length / 2)] ?? Number.NaN;
}

/** Nearest-rank percentile, p in (0, 100]; NaN for no values. */
export function percentile(xs: readonly number[], p: number): number {
  return sorted(xs)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] ?? Number.NaN;
}
