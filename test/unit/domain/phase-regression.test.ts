// The state machine on a convergence regression (an apiserver back on an older key_id after the
// migration started): it waits and says it regressed, then passes again over every resource,
// whether or not the first pass was done, before anything may complete.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideNextStep, type StepInput } from '../../../shared/domain/phase.ts';
import { counts, minute } from '../../support/unit/domain-fixtures.ts';

const converged = { converged: true, reason: 'all 2 live apiserver(s) report key', pending: [] };
const lost = { converged: false, reason: '1 of 2 pending', pending: ['sha256:b'] };
const finished = { done: true, counts: counts({ listed: 9 }), failed: [], finishedAt: minute(10) };
const running = { done: false, counts: counts({ listed: 5 }), failed: [] };

function input(over: Partial<StepInput> = {}): StepInput {
  return {
    revision: { name: 'encryption-key-p-2', phase: 'Migrating' },
    convergence: converged,
    migration: { ...running, started: true },
    verification: { configured: false },
    plugin: { status: 'healthy' },
    ...over,
  };
}

describe('decideNextStep: a regression of the convergence gate', () => {
  it('waits and says it regressed once the migration has started', () => {
    assert.deepEqual(decideNextStep(input({ convergence: lost })), {
      kind: 'wait-convergence',
      reason: '1 of 2 pending',
      pending: ['sha256:b'],
      regressed: true,
    });
  });

  it('is no regression before the migration started', () => {
    const step = decideNextStep(
      input({ convergence: lost, migration: { ...running, counts: counts(), started: false } }),
    );
    assert.equal(step.kind, 'wait-convergence');
    assert.ok(step.kind === 'wait-convergence');
    assert.equal(step.regressed, undefined);
  });

  it('records the regression even while the plugin is unhealthy', () => {
    const step = decideNextStep(
      input({ convergence: lost, plugin: { status: 'unhealthy', reason: 'down' } }),
    );
    assert.equal(step.kind, 'degraded');
    assert.ok(step.kind === 'degraded');
    assert.equal(step.regressed, true);
  });

  it('passes again over every resource once re-converged, even when the first pass was done', () => {
    const at = minute(12);
    for (const migration of [
      { ...finished, started: true },
      { ...running, started: true },
    ]) {
      assert.deepEqual(decideNextStep(input({ migration, regressedAt: at })), {
        kind: 'migrate',
        again: { regressedAt: at },
      });
    }
    // without etcd, a done pass would otherwise complete unverified
    assert.equal(
      decideNextStep(input({ migration: { ...finished, started: true } })).kind,
      'complete',
    );
  });

  it('with etcd, does not verify a pass that a regression made stale', () => {
    const step = decideNextStep(
      input({
        migration: { ...finished, started: true },
        verification: { configured: true },
        regressedAt: minute(12),
      }),
    );
    assert.equal(step.kind, 'migrate');
  });
});
