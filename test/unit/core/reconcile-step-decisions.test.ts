// reconcileStep leaves every phase to the state machine: what a step learns only by trying (etcd
// cannot be scanned, a list is refused for good), a hidden rotation noted on the revision, and a
// scope that grew after completion are inputs of decideNextStep, and the step stores the phase
// its answer gives. Side effects are asserted as data.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Verifier } from '../../../shared/ports/verifier.ts';
import { A, asStep, harness, P, rotated, types } from '../../support/unit/reconcile-harness.ts';

const etcdDown: Verifier = {
  async scan() {
    return { available: false, reason: 'etcd: connection refused' };
  },
};

describe('reconcileStep: the state machine decides every phase', () => {
  it('etcd unreachable at verification: recoverable Degraded, announced once, then verified', async () => {
    const h = rotated({ objects: 6 });
    const etcd = h.deps.verifier;
    assert.ok(etcd, 'the harness verifies from etcd');
    h.deps.verifier = etcdDown;

    const o = asStep(await h.step());
    assert.deepEqual(o.step, {
      kind: 'degraded',
      reason: 'etcd verification is configured but unavailable: etcd: connection refused',
      recoverable: true,
    });
    assert.equal(o.phase, 'Degraded');
    assert.equal(o.more, true);
    assert.equal(h.revision(2).lastError, o.step.kind === 'degraded' ? o.step.reason : '');
    assert.deepEqual(h.updates.map((r) => r.phase).slice(-2), ['Verifying', 'Degraded']);

    await h.step();
    assert.equal(types(h).filter((t) => t === 'migration.degraded').length, 1, 'announced once');

    h.deps.verifier = etcd;
    const up = asStep(await h.step());
    assert.deepEqual(up.step, { kind: 'complete', verified: true });
    assert.equal(h.revision(2).lastError, undefined);
  });

  it('a list refused for good: Degraded naming the resource, no continuation, retried later', async () => {
    const h = rotated({ objects: 6 });
    const list = h.cluster.listPage.bind(h.cluster);
    h.cluster.listPage = async () => {
      throw new Error('list secrets: HTTP 403 Forbidden');
    };

    const o = asStep(await h.step());
    const reason = 'cannot list secrets: list secrets: HTTP 403 Forbidden';
    assert.deepEqual(o.step, { kind: 'degraded', reason, recoverable: false });
    assert.equal(o.phase, 'Degraded');
    assert.equal(o.more, false);
    assert.equal(h.revision(2).lastError, reason);
    const announced = h.events.at(-1);
    assert.equal(announced?.type, 'migration.degraded');
    assert.equal(announced && 'reason' in announced.data ? announced.data.reason : '', reason);

    h.cluster.listPage = list; // RBAC granted
    const again = asStep(await h.step());
    assert.deepEqual(again.step, { kind: 'complete', verified: true });
    assert.equal(h.cluster.patches.length, 6);
  });

  it('a Completed revision with a hidden rotation noted says so and does nothing', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    await h.step();
    const [stored] = await h.store.list(P);
    assert.ok(stored);
    await h.store.update(
      {
        ...stored.revision,
        kmsRotation: { key: 'k', at: h.clock.iso(), verdict: 'hidden', explanation: 'hidden' },
      },
      stored.version,
    );
    const writes = h.updates.length;
    h.cluster.patches = [];

    const o = asStep(await h.step());
    assert.equal(o.step.kind, 'nothing-to-do');
    assert.match(
      o.step.kind === 'nothing-to-do' ? o.step.reason : '',
      /key_id is unchanged: no object became stale, encryption-key-p-1 stays Completed/,
    );
    assert.equal(o.phase, 'Completed');
    assert.deepEqual(h.cluster.patches, []);
    assert.equal(h.updates.length, writes, 'nothing written');
  });

  it('a resource that joins the scope re-opens a Completed revision and is migrated', async () => {
    const h = harness({ objects: 4 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    await h.step();
    assert.equal(h.revision(1).phase, 'Completed');
    h.cluster.patches = [];
    h.updates.length = 0;

    const o = asStep(await h.step({ resources: ['secrets', 'configmaps'] }));

    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.deepEqual(
      h.revision(1).progress.resources.map((r) => [r.resource, r.done]),
      [
        ['secrets', true],
        ['configmaps', true],
      ],
    );
    assert.equal(h.cluster.patches.length, 4, 'the joining resource is rewritten');
    // the join itself changes no phase; the state machine's migrate does
    assert.deepEqual(h.updates.map((r) => r.phase).slice(0, 2), ['Completed', 'Migrating']);
  });
});
