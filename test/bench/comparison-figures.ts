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
      value: 85,
    },
  );

  // the storage version migrators, each with the clients running: compared with rekey's own
  // migration with the same clients (not with rekey alone), run by run
  const rekeyLoaded = runs.map((r) =>
    perSecond(r.rekeyUnderLoad.counts.reencrypted, r.rekeyUnderLoad.migrateMs),
  );
  emit('rekey_with_clients_reencrypted_per_second', rekeyLoaded, 'objects/s');
  for (const peer of ['ksvm', 'svm'] as const) {
    const rates = runs.map((r) => perSecond(r[peer].reencrypted, r[peer].elapsedMs));
    emit(`${peer}_reencrypted_per_second`, rates, 'objects/s');
    // a migration that reports Succeeded yet left secrets under an older key (counted from etcd)
    report.emit(
      `${peer}_not_reencrypted`,
      sum(runs.map((r) => r[peer].total - r[peer].reencrypted)),
      'objects',
      n,
      k,
    );
    emit(
      `rekey_vs_${peer}`,
      rekeyLoaded.map((x, i) => x / (rates[i] as number)),
      'x',
      { op: '>=', value: 3 },
    );
  }

  for (const phase of ['idle', 'kubectl', 'rekey', 'ksvm', 'svm'] as const) {
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
    if (phase === 'idle') continue;
    report.emit(
      `lost_updates_${phase}`,
      sum(runs.map((r) => r.latency[phase].lostUpdates)),
      'objects',
      n,
      k,
      { op: '<=', value: 0, text: '0' },
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
