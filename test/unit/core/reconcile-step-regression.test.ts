// reconcileStep when an apiserver drops back to the old key_id mid-migration (a restart with a
// lagging plugin, a new control-plane node) and clients write through it: the step waits instead
// of rewriting, and once every apiserver is back it passes again over every resource, so the
// objects written under the old key in pages already done are rewritten, with or without etcd.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNVERIFIED_NOTE } from '../../../shared/domain/phase.ts';
import { asStep, B, type Harness, rotated, types } from '../../support/unit/reconcile-harness.ts';

/** Apiserver B joins on k1: the cluster's writes through it are under k1 until it adopts k2. */
function regress(h: Harness) {
  h.adoption.reports.set(B, 'k1');
  h.cluster.currentKeyId = 'k1';
}

function recover(h: Harness) {
  h.adoption.reports.set(B, 'k2');
  h.cluster.currentKeyId = 'k2';
}

/** One page (10 objects) rewritten, then a regression and a write into that page through B. */
async function firstPageThenRegression(h: Harness) {
  h.cluster.listCostMs = 1000;
  const first = asStep(await h.step({ budgetMs: 1000 }));
  assert.equal(first.counts.listed, 10);
  assert.equal(h.cluster.get('ns-0/s-000').keyId, 'k2');
  h.cluster.listCostMs = 0;
  regress(h);
  h.cluster.userWrite('ns-0/s-000');
  assert.equal(h.cluster.get('ns-0/s-000').keyId, 'k1');
}

describe('reconcileStep: a regression of the convergence gate', () => {
  it('waits while regressed, then passes again from the start and completes unverified only after it (no etcd)', async () => {
    const h = rotated({ verifier: false });
    await firstPageThenRegression(h);
    const patched = h.cluster.patches.length;

    for (let i = 0; i < 2; i++) {
      h.clock.advance(10_000);
      const wait = asStep(await h.step());
      assert.equal(wait.step.kind, 'wait-convergence');
      assert.equal(wait.phase, 'Converging');
      assert.equal(wait.more, true);
    }
    assert.equal(h.cluster.patches.length, patched, 'nothing rewritten through a K1 apiserver');
    const waiting = h.revision(2);
    assert.ok(waiting.regressedAt, 'the revision records the regression');
    assert.equal(
      waiting.regressedAt,
      new Date(h.clock.t - 10_000).toISOString(),
      'first time kept',
    );

    recover(h);
    const done = asStep(await h.step());
    assert.deepEqual(done.step, { kind: 'complete', verified: false, note: UNVERIFIED_NOTE });
    assert.equal(h.cluster.get('ns-0/s-000').keyId, 'k2', 'the write through B is rewritten');
    assert.ok(h.cluster.sorted().every((o) => o.keyId === 'k2'));
    // the second pass listed from the start: counts kept (10 + 25)
    assert.deepEqual(h.stepLists.at(-1), [undefined, 'ns-0/s-018', 'ns-1/s-013']);
    assert.equal(done.counts.listed, 35);
    assert.equal(h.revision(2).regressedAt, undefined, 'cleared once the pass started again');
  });

  it('re-opens a finished pass when the gate regresses between its last page and completion (no etcd)', async () => {
    const h = rotated({ verifier: false });
    // the gate closes right after the last page, before the step may complete
    const read = h.deps.adoption.read.bind(h.deps.adoption);
    let reads = 0;
    h.deps.adoption.read = async () => {
      if (++reads === 2) {
        regress(h);
        h.cluster.userWrite('ns-1/s-001');
      }
      return read();
    };
    const wait = asStep(await h.step());
    assert.equal(wait.step.kind, 'wait-convergence');
    assert.equal(wait.counts.listed, 25);
    assert.ok(h.revision(2).regressedAt);
    assert.equal(h.revision(2).phase, 'Converging');

    recover(h);
    const done = asStep(await h.step());
    assert.equal(done.step.kind, 'complete');
    assert.equal(done.counts.listed, 50, 'a second pass over everything');
    assert.equal(h.cluster.get('ns-1/s-001').keyId, 'k2');
    assert.ok(types(h).includes('migration.completed'));
  });

  it('with etcd, the second pass leaves no offenders to find', async () => {
    const h = rotated();
    await firstPageThenRegression(h);
    h.clock.advance(10_000);
    assert.equal(asStep(await h.step()).step.kind, 'wait-convergence');

    recover(h);
    const done = asStep(await h.step());
    assert.deepEqual(done.step, { kind: 'complete', verified: true });
    assert.equal(done.verified, true);
    assert.equal(h.verifier?.scans, 1, 'one scan, clean the first time');
    assert.equal(
      h.updates.some((r) => r.phase === 'Degraded' || (r.verification && !r.verification.clean)),
      false,
      'never Degraded, never an offender',
    );
    assert.equal(types(h).includes('migration.degraded'), false);
    assert.equal(h.revision(2).retry, undefined);
  });

  it('records the regression while the plugin is down too, and passes again once all is back', async () => {
    const h = rotated({ verifier: false });
    await firstPageThenRegression(h);
    h.observer.pluginHealth = { status: 'unhealthy', reason: 'Status: connection refused' };
    const down = asStep(await h.step());
    assert.equal(down.step.kind, 'degraded');
    assert.ok(h.revision(2).regressedAt);

    h.observer.pluginHealth = { status: 'healthy' };
    recover(h);
    const done = asStep(await h.step());
    assert.equal(done.step.kind, 'complete');
    assert.equal(h.cluster.get('ns-0/s-000').keyId, 'k2');
  });
});
