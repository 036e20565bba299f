// Scale, projected: from what the bench measured at its sizes, what a rewrite of N objects would
// take (time, the runner's memory, one etcd scan). Each quantity is fitted as fixed + per object
// by least squares, but only over sizes at least MIN_SPAN (5x) apart: between close sizes the noise of
// a shared machine outweighs the per-object part (measured: 300 and 500 objects gave a migration
// faster at 500 and a memory slope of 23 KiB per object). With closer sizes, time and scan are
// taken through the origin from the largest size (every fixed cost counted per object: an upper
// bound), and memory is not projected (NaN). The projection is only as good as the sizes behind
// it, and the README states them. Pure.

/** One measurement: a quantity at a size. */
export interface Sample {
  n: number;
  value: number;
}

/** `value ≈ fixed + perObject × n`. */
export interface LinearFit {
  fixed: number;
  perObject: number;
}

/**
 * The least-squares line through the samples; from a single size (or sizes all equal), the line
 * through the origin and their mean. A negative per-object cost (noise across close sizes: memory
 * that does not grow) is taken as flat, at the largest value measured: a projection never shrinks.
 */
export function fitLinear(samples: readonly Sample[]): LinearFit {
  if (samples.length === 0) throw new RangeError('no samples to fit');
  const k = samples.length;
  const mean = (f: (s: Sample) => number) => samples.reduce((a, s) => a + f(s), 0) / k;
  const mn = mean((s) => s.n);
  const mv = mean((s) => s.value);
  const sxx = samples.reduce((a, s) => a + (s.n - mn) ** 2, 0);
  if (sxx === 0) return { fixed: 0, perObject: mn === 0 ? 0 : mv / mn };
  const sxy = samples.reduce((a, s) => a + (s.n - mn) * (s.value - mv), 0);
  const perObject = sxy / sxx;
  if (perObject < 0) return { fixed: Math.max(...samples.map((s) => s.value)), perObject: 0 };
  return { fixed: mv - perObject * mn, perObject };
}

export function valueAt(fit: LinearFit, n: number): number {
  return fit.fixed + fit.perObject * n;
}

/** How far apart (largest ÷ smallest) the sizes must be for a fixed + per-object fit. */
export const MIN_SPAN = 5;

/** Whether the samples' sizes are far enough apart to tell a fixed cost from a per-object one. */
export function spansEnough(samples: readonly Sample[]): boolean {
  const ns = samples.map((s) => s.n).filter((n) => n > 0);
  return ns.length > 1 && Math.max(...ns) / Math.min(...ns) >= MIN_SPAN;
}

/** Through the origin from the largest size: its whole value counted per object. */
export function fromLargest(samples: readonly Sample[]): LinearFit {
  const largest = [...samples].sort((a, b) => b.n - a.n)[0];
  if (!largest || largest.n <= 0) throw new RangeError('no sample to project from');
  return { fixed: 0, perObject: largest.value / largest.n };
}

/** What the bench measured, per size. */
export interface ProjectionInputs {
  /** Migration time, listing to verified completion (ms), by objects listed. */
  migrateMs: readonly Sample[];
  /** The runner's peak RSS (MiB), by objects listed. */
  rssMib: readonly Sample[];
  /** One scan of the whole etcd prefix (ms), by values scanned. */
  etcdScanMs: readonly Sample[];
}

export interface Projection {
  n: number;
  migrateSeconds: number;
  runnerRssMib: number;
  etcdScanSeconds: number;
  /** How each was projected; `rssMib` undefined: the sizes were too close to project memory. */
  fits: { migrateMs: LinearFit; rssMib?: LinearFit; etcdScanMs: LinearFit };
}

/** The projection at `n` objects. */
export function projectTo(n: number, inputs: ProjectionInputs): Projection {
  const fit = (samples: readonly Sample[]) =>
    spansEnough(samples) ? fitLinear(samples) : fromLargest(samples);
  const migrateMs = fit(inputs.migrateMs);
  const etcdScanMs = fit(inputs.etcdScanMs);
  const rssMib = spansEnough(inputs.rssMib) ? fitLinear(inputs.rssMib) : undefined;
  return {
    n,
    migrateSeconds: valueAt(migrateMs, n) / 1000,
    runnerRssMib: rssMib ? valueAt(rssMib, n) : Number.NaN,
    etcdScanSeconds: valueAt(etcdScanMs, n) / 1000,
    fits: { migrateMs, etcdScanMs, ...(rssMib ? { rssMib } : {}) },
  };
}
