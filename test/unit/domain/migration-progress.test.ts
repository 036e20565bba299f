// Counting outcomes, capping failure names, summing resources into a migration summary.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addListed,
  addOutcome,
  emptyCounts,
  type MigrationCounts,
  type ObjectFailure,
  recordFailure,
  sumCounts,
} from '../../../shared/domain/migration-counts.ts';
import {
  emptyProgress,
  type MigrationProgress,
  refuseObject,
  relistResources,
  settleObject,
  startProgress,
  summariseProgress,
} from '../../../shared/domain/migration-progress.ts';
import type { RewriteOutcome } from '../../../shared/domain/rewrite-outcome.ts';
import { counts, minute } from '../../support/unit/domain-fixtures.ts';

describe('addOutcome', () => {
  const table: [RewriteOutcome, keyof MigrationCounts][] = [
    ['reencrypted', 'reencrypted'],
    ['unchanged', 'unchanged'],
    ['conflict', 'conflicts'],
    ['gone', 'gone'],
    [{ failed: 'forbidden' }, 'failed'],
    [{ retry: 100 }, 'retried'],
  ];
  for (const [outcome, field] of table) {
    it(`${JSON.stringify(outcome)} counts in ${field}`, () => {
      const before = emptyCounts();
      assert.deepEqual(addOutcome(before, outcome), counts({ [field]: 1 }));
      assert.deepEqual(before, emptyCounts(), 'the input is not mutated');
    });
  }
});

describe('counts', () => {
  it('adds listed objects', () => {
    assert.deepEqual(addListed(counts({ listed: 2 }), 500), counts({ listed: 502 }));
  });

  it('sums tallies field by field', () => {
    const a = counts({ listed: 3, reencrypted: 2, failed: 1 });
    const b = counts({ listed: 4, unchanged: 4, retried: 9, gone: 1, conflicts: 2 });
    assert.deepEqual(
      sumCounts([a, b]),
      counts({
        listed: 7,
        reencrypted: 2,
        unchanged: 4,
        conflicts: 2,
        gone: 1,
        failed: 1,
        retried: 9,
      }),
    );
    assert.deepEqual(sumCounts([]), emptyCounts());
  });
});

describe('recordFailure', () => {
  const f = (name: string): ObjectFailure => ({ namespace: 'ns', name, reason: 'forbidden' });

  it('appends', () => assert.deepEqual(recordFailure([f('a')], f('b')), [f('a'), f('b')]));

  it('keeps only the first names once full', () => {
    const full = [f('a'), f('b')];
    const next = recordFailure(full, f('c'), { max: 2 });
    assert.deepEqual(next, full);
    assert.notEqual(next, full, 'a copy, never the input');
  });

  it('names an object once: a page done again, or a retry pass, updates its reason in place', () => {
    const next = recordFailure([f('a'), f('b')], { ...f('a'), reason: 'invalid' });
    assert.deepEqual(next, [{ ...f('a'), reason: 'invalid' }, f('b')]);
  });
});

describe('summariseProgress', () => {
  it('is not done before the migration started', () => {
    assert.deepEqual(summariseProgress(emptyProgress()), {
      done: false,
      counts: emptyCounts(),
      failed: [],
    });
  });

  it('starts one checkpoint per distinct resource', () => {
    const p = startProgress(['secrets', 'configmaps', 'secrets']);
    assert.deepEqual(
      p.resources.map((r) => [r.resource, r.done]),
      [
        ['secrets', false],
        ['configmaps', false],
      ],
    );
    assert.equal(summariseProgress(p).done, false);
  });

  it('is done when every resource is, ending at the latest finish', () => {
    const failed = [{ namespace: 'ns', name: 'x', reason: 'denied' }];
    const summary = summariseProgress({
      resources: [
        {
          resource: 'secrets',
          done: true,
          counts: counts({ listed: 5, failed: 1 }),
          finishedAt: minute(9),
        },
        {
          resource: 'configmaps',
          done: true,
          counts: counts({ listed: 2 }),
          finishedAt: minute(12),
        },
        { resource: 'widgets', done: true, counts: counts({ listed: 1 }) },
      ],
      failed,
    });
    assert.deepEqual(summary, {
      done: true,
      counts: counts({ listed: 8, failed: 1 }),
      failed,
      finishedAt: minute(12),
    });
  });

  it('is not done while one resource is running', () => {
    const summary = summariseProgress({
      resources: [
        { resource: 'secrets', done: true, counts: counts(), finishedAt: minute(9) },
        { resource: 'configmaps', done: false, counts: counts(), continueToken: 'c' },
      ],
      failed: [],
    });
    assert.equal(summary.done, false);
    assert.equal(summary.finishedAt, undefined);
  });
});

describe('migration progress after a retry pass', () => {
  const denied = { resource: 'secrets', namespace: 'a', name: 'denied' };
  const before: MigrationProgress = {
    resources: [
      { resource: 'configmaps', done: true, counts: counts({ listed: 2, unchanged: 2 }) },
      {
        resource: 'secrets',
        done: true,
        counts: counts({ listed: 3, reencrypted: 2, failed: 1 }),
        finishedAt: '2025-01-01T00:05:00.000Z',
      },
    ],
    failed: [{ ...denied, reason: 'denied by policy' }],
  };

  it('settling a refused object forgets it and counts what happened instead', () => {
    const after = settleObject(before, denied, 'reencrypted');
    assert.deepEqual(after.failed, []);
    assert.deepEqual(after.resources[1]?.counts, counts({ listed: 3, reencrypted: 3 }));
    assert.equal(after.resources[0], before.resources[0]);
  });

  it('settling an offender that was never refused only counts it', () => {
    const other = { resource: 'configmaps', namespace: 'b', name: 'c' };
    const after = settleObject(before, other, 'unchanged');
    assert.deepEqual(after.failed, before.failed);
    assert.deepEqual(after.resources[0]?.counts, counts({ listed: 2, unchanged: 3 }));
  });

  it('a refusal again keeps one entry with the newer reason; a new one is counted', () => {
    const again = refuseObject(before, denied, 'denied by webhook "w"');
    assert.deepEqual(again.failed, [{ ...denied, reason: 'denied by webhook "w"' }]);
    assert.equal(again.resources[1]?.counts.failed, 1);
    const fresh = refuseObject(before, { ...denied, name: 'other' }, 'forbidden');
    assert.equal(fresh.failed.length, 2);
    assert.equal(fresh.resources[1]?.counts.failed, 2);
  });

  it('listing a resource again restarts its checkpoint and judges its failures afresh', () => {
    const after = relistResources(before, ['secrets']);
    assert.deepEqual(after.failed, []);
    const cp = after.resources[1];
    assert.equal(cp?.done, false);
    assert.equal(cp?.finishedAt, undefined);
    assert.equal(cp?.counts.failed, 0);
    assert.equal(cp?.counts.listed, 3, 'what was counted stays counted');
    assert.equal(summariseProgress(after).done, false);
    assert.equal(relistResources(before, []), before);
  });
});
