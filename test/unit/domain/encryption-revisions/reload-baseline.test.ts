// Reload failures judged against the baseline recorded when a stage began: a failure counted
// before the stage is ignored, one during it (the apiserver still not on its node's hash) is
// Degraded naming the apiserver, one followed by a successful reload is no failure, and a counter
// that went down (the apiserver restarted) lowers the baseline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessConfigConvergence } from '../../../../shared/domain/encryption-revisions/config-convergence.ts';
import {
  extendBaseline,
  reloadFailedSince,
} from '../../../../shared/domain/encryption-revisions/reload-baseline.ts';

const expected = (a: { node?: string | undefined }) => `sha256:${a.node}`;

describe('reload baseline', () => {
  it('a failure counted before the stage began is ignored', () => {
    const { baseline } = extendBaseline(undefined, [{ id: 'a', reloadFailures: 2 }]);
    assert.deepEqual(baseline, { a: 2 });
    // later: still 2 failures, not on the new hash yet: it is waited for
    const live = [{ id: 'a', node: 'n1', applied: 'sha256:old', reloadFailures: 2 }];
    const v = assessConfigConvergence(live, expected, extendBaseline(baseline, live).baseline);
    assert.equal(v.state, 'waiting');
  });

  it('a failure during the stage, not on its hash: Degraded naming the apiserver', () => {
    const baseline = { a: 2, b: 0 };
    const live = [
      { id: 'a', node: 'n1', applied: 'sha256:old', reloadFailures: 3 },
      { id: 'b', node: 'n2', applied: 'sha256:n2', reloadFailures: 0 },
    ];
    const { baseline: judged, changed } = extendBaseline(baseline, live);
    assert.equal(changed, false);
    assert.equal(reloadFailedSince(live[0] as (typeof live)[0], judged), true);
    const v = assessConfigConvergence(live, expected, judged);
    assert.equal(v.state, 'degraded');
    assert.deepEqual(v.failed, ['n1 (a)']);
    assert.match(v.reason ?? '', /n1 \(a\) failed to reload/);
  });

  it('a failure followed by a successful reload (the hash applied) is fine', () => {
    const live = [{ id: 'a', node: 'n1', applied: 'sha256:n1', reloadFailures: 1 }];
    const v = assessConfigConvergence(live, expected, extendBaseline({ a: 0 }, live).baseline);
    assert.equal(v.state, 'converged');
  });

  it('an apiserver first seen later gets its count as baseline; a counter reset lowers it', () => {
    const seen = extendBaseline({ a: 1 }, [
      { id: 'a', reloadFailures: 1 },
      { id: 'new', reloadFailures: 4 },
    ]);
    assert.deepEqual(seen, { baseline: { a: 1, new: 4 }, changed: true });
    assert.equal(reloadFailedSince({ id: 'new', reloadFailures: 4 }, seen.baseline), false);
    // restarted: its counter began again at 0, and a failure after that counts
    const reset = extendBaseline(seen.baseline, [{ id: 'new', reloadFailures: 0 }]);
    assert.deepEqual(reset.baseline, { a: 1, new: 0 });
    assert.equal(reloadFailedSince({ id: 'new', reloadFailures: 1 }, reset.baseline), true);
  });
});
