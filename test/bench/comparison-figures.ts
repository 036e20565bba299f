// Turns the side-by-side runs into figures: medians across runs, ratios taken within each run
// (the machine is shared and noisy, so only same-run ratios compare like with like), and error
// counts summed over all runs (a single error anywhere misses a zero target).
import type { ComparisonRun } from './comparison-run.ts';
import type { Report, Target } from './report.ts';
import { median } from './stats.ts';

const perSecond = (objects: number, ms: number) => objects / (ms / 1000);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export function emitComparison(report: Report, runs: ComparisonRun[], n: number): void {
  const k = runs.length;
  const emit = (figure: string, values: number[], unit: string, target?: Target) =>
    report.emit(figure, median(values), unit, n, k, target);

  const kubectl = runs.map((r) => perSecond(r.kubectl.reencrypted, r.kubectl.elapsedMs));
  const rekey = runs.map((r) =>
    perSecond(r.rekey.result.counts.reencrypted, r.rekey.result.migrateMs),
  );
  const ceiling = runs.map((r) => Math.max(...r.ceiling.map((l) => l.perSecond)));
  emit('kubectl_replace_reencrypted_per_second', kubectl, 'objects/s');
  report.emit('kubectl_replace_errors', sum(runs.map((r) => r.kubectl.errors)), 'objects', n, k);
  emit('rekey_reencrypted_per_second', rekey, 'objects/s');
  emit(
    'rekey_vs_kubectl_replace',
    rekey.map((x, i) => x / (kubectl[i] as number)),
    'x',
    {
      op: '>=',
      value: 5,
    },
  );

  for (const [i, level] of (runs[0]?.ceiling ?? []).entries()) {
    const rates = runs.map((r) => r.ceiling[i]?.perSecond ?? Number.NaN);
    emit(`apiserver_noop_per_second_c${level.concurrency}`, rates, 'objects/s');
  }
  report.emit(
    'apiserver_noop_errors',
    sum(runs.flatMap((r) => r.ceiling.map((l) => l.errors))),
    'requests',
    n,
    k,
  );
  emit('apiserver_noop_ceiling', ceiling, 'objects/s');
  emit(
    'rekey_share_of_ceiling',
    rekey.map((x, i) => (100 * x) / (ceiling[i] as number)),
    '%',
    {
      op: '>=',
      value: 50,
    },
  );

  for (const phase of ['idle', 'kubectl', 'rekey'] as const) {
    emit(
      `client_p50_ms_${phase}`,
      runs.map((r) => r.latency[phase].p50Ms),
      'ms',
    );
    emit(
      `client_p99_ms_${phase}`,
      runs.map((r) => r.latency[phase].p99Ms),
      'ms',
    );
    report.emit(
      `client_errors_${phase}`,
      sum(runs.map((r) => r.latency[phase].errors)),
      'errors',
      n,
      k,
      phase === 'rekey' ? { op: '<=', value: 0, text: '0' } : undefined,
    );
  }
  emit(
    'client_p99_rekey_over_idle',
    runs.map((r) => r.latency.rekey.p99Ms / r.latency.idle.p99Ms),
    'x',
    {
      op: '<=',
      value: 2,
    },
  );
  report.emit(
    'kubectl_replace_errors_with_clients',
    sum(runs.map((r) => r.kubectlUnderLoad.errors)),
    'objects',
    n,
    k,
  );
  emit(
    'first_rewrite_after_key_change',
    runs.map((r) => r.rekey.firstRewriteMs / 1000),
    's',
    {
      op: '<=',
      value: 90,
    },
  );
}
