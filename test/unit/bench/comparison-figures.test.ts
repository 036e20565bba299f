// The side-by-side figures of the storage version migrators: each migrator's rate, rekey's rate
// with the same clients, their ratio within the run against the ≥ 3x target, and per phase the
// clients' latency and lost updates. A ratio taken against rekey alone (no clients) would flatter
// rekey; a lost update anywhere must miss its zero target.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emitComparison } from '../../bench/comparison-figures.ts';
import type { ComparisonRun } from '../../bench/comparison-run.ts';
import type { Report, Target } from '../../bench/report.ts';

const latency = (p99Ms: number, lostUpdates = 0) => ({
  p50Ms: p99Ms / 2,
  p99Ms,
  errors: 0,
  samples: 100,
  lostUpdates,
});

const run: ComparisonRun = {
  kubectl: { elapsedMs: 10_000, exitCode: 0, errors: 0, reencrypted: 1000, total: 1000 },
  kubectlUnderLoad: { elapsedMs: 10_000, exitCode: 0, errors: 3, reencrypted: 997, total: 1000 },
  ceiling: [{ concurrency: 16, perSecond: 900, errors: 0, objects: 1000, rewritten: 1000 }],
  rekey: {
    keyId: 'local-9',
    result: {
      phase: 'Completed',
      counts: { listed: 1000, reencrypted: 1000, failed: 0 },
      migrateMs: 1000,
      maxRssKb: 1024,
    },
    firstRewriteMs: 3000,
  },
  // with the clients: 1000 objects in 2 s, 500/s
  rekeyUnderLoad: {
    phase: 'Completed',
    counts: { listed: 1000, reencrypted: 1000, failed: 0 },
    migrateMs: 2000,
    maxRssKb: 1024,
  },
  ksvm: { elapsedMs: 10_000, reencrypted: 1000, total: 1000 }, // 100/s
  svm: { elapsedMs: 4000, reencrypted: 1000, total: 1003 }, // 250/s, 3 left behind
  latency: {
    idle: latency(100),
    kubectl: latency(200),
    rekey: latency(150),
    ksvm: latency(300),
    svm: latency(120, 2),
  },
};

function capture() {
  const figures = new Map<string, { value: number; target?: Target }>();
  const report: Report = {
    emit(figure, value, _unit, _n, _runs, target) {
      figures.set(figure, target ? { value, target } : { value });
    },
    finish() {},
  };
  return { report, figures };
}

describe('storage version migrators beside rekey', () => {
  it('divides rekey with the clients by each migrator with the clients, against ≥ 3x', () => {
    const { report, figures } = capture();
    emitComparison(report, [run], 1000);
    assert.equal(figures.get('rekey_with_clients_reencrypted_per_second')?.value, 500);
    assert.equal(figures.get('ksvm_reencrypted_per_second')?.value, 100);
    assert.equal(figures.get('svm_reencrypted_per_second')?.value, 250);
    assert.equal(figures.get('ksvm_not_reencrypted')?.value, 0);
    assert.equal(figures.get('svm_not_reencrypted')?.value, 3);
    assert.deepEqual(figures.get('rekey_vs_ksvm'), { value: 5, target: { op: '>=', value: 3 } });
    assert.deepEqual(figures.get('rekey_vs_svm'), { value: 2, target: { op: '>=', value: 3 } });
  });

  it('reports client latency and lost updates for each migrator, lost updates against 0', () => {
    const { report, figures } = capture();
    emitComparison(report, [run], 1000);
    assert.equal(figures.get('client_p99_ms_ksvm')?.value, 300);
    assert.equal(figures.get('client_p99_ms_svm')?.value, 120);
    assert.equal(figures.get('client_p50_ms_svm')?.value, 60);
    const zero = { op: '<=', value: 0, text: '0' };
    assert.deepEqual(figures.get('lost_updates_svm'), { value: 2, target: zero });
    for (const phase of ['kubectl', 'rekey', 'ksvm']) {
      assert.deepEqual(figures.get(`lost_updates_${phase}`), { value: 0, target: zero });
    }
    assert.equal(figures.has('lost_updates_idle'), false);
  });

  it('holds rekey alone against the no-op ceiling at the ≥ 85% target, and kubectl at ≥ 5x', () => {
    const { report, figures } = capture();
    emitComparison(report, [run], 1000);
    // rekey alone: 1000 objects in 1 s against a 900/s ceiling
    const share = figures.get('rekey_share_of_ceiling');
    assert.ok(Math.abs((share?.value ?? 0) - 111.11) < 0.01, `share ${share?.value}`);
    assert.deepEqual(share?.target, { op: '>=', value: 85 });
    assert.deepEqual(figures.get('rekey_vs_kubectl_replace'), {
      value: 10,
      target: { op: '>=', value: 5 },
    });
  });
});
