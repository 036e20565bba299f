// Scale, projected: from what the bench measured at its sizes, what a rewrite of N objects would
// take (time, the runner's memory, one etcd scan). Each quantity is fitted as fixed + per object
// (least squares over the sizes measured; through the origin from one size), so the projection
// is only as good as the sizes behind it, and the README states them. Pure.

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
  fits: { migrateMs: LinearFit; rssMib: LinearFit; etcdScanMs: LinearFit };
}

/** The projection at `n` objects. */
export function projectTo(n: number, inputs: ProjectionInputs): Projection {
  const fits = {
    migrateMs: fitLinear(inputs.migrateMs),
    rssMib: fitLinear(inputs.rssMib),
    etcdScanMs: fitLinear(inputs.etcdScanMs),
  };
  return {
    n,
    migrateSeconds: valueAt(fits.migrateMs, n) / 1000,
    runnerRssMib: valueAt(fits.rssMib, n),
    etcdScanSeconds: valueAt(fits.etcdScanMs, n) / 1000,
    fits,
  };
}
