// reconcileStep over in-memory ports: bounded slices and resumption, Degraded and recovery, and
// the forced rewrite. Every side effect is asserted as data.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNVERIFIED_NOTE } from '../../../shared/domain/phase.ts';
import {
  A,
  asStep,
  assertNoRepeatedPatch,
  harness,
  rotated,
  types,
} from '../../support/unit/reconcile-harness.ts';

describe('reconcileStep: bounded slices', () => {
  it('stops after a page when the budget is spent and resumes from the continue token', async () => {
    const h = rotated();
    h.cluster.listCostMs = 1000;
    const slice = { budgetMs: 1000 };

    const first = asStep(await h.step(slice));
    assert.deepEqual(first.step, { kind: 'migrate' });
    assert.equal(first.more, true);
    assert.equal(first.phase, 'Migrating');
    assert.equal(first.counts.listed, 10);
    assert.equal(h.revision(2).progress.resources[0]?.continueToken, 'ns-0/s-018');
    assert.equal(h.cluster.patches.length, 10);
    assert.equal(h.lock.held.size, 0, 'the lock is released between slices');

    // someone updates an object of the next page meanwhile (with the current key)
    h.cluster.userWrite('ns-0/s-020');

    const second = asStep(await h.step(slice));
    assert.equal(second.more, true);
    assert.equal(second.counts.listed, 20);

    const third = asStep(await h.step(slice));
    assert.deepEqual(third.step, { kind: 'complete', verified: true });
    assert.equal(third.more, false);
    assert.equal(third.counts.listed, 25);
    assert.equal(third.counts.reencrypted, 24);
    assert.equal(third.counts.unchanged, 1);

    // each step lists on from the checkpoint the one before saved, reading one page ahead
    assert.deepEqual(h.stepLists, [
      [undefined, 'ns-0/s-018'],
      ['ns-0/s-018', 'ns-1/s-013'],
      ['ns-1/s-013'],
    ]);
    assert.equal(h.cluster.patches.length, 25, 'each object once');
    assertNoRepeatedPatch(h.cluster.patches);
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
  });

  it('rewrites at least one page per step even when the fixed work alone outlasts the budget', async () => {
    const h = rotated();
    // observation and adoption cost 2 s a step (say, a slow link to the apiserver), the budget is 1 s
    const read = h.deps.adoption.read.bind(h.deps.adoption);
    h.deps.adoption.read = async () => {
      h.clock.advance(2000);
      return read();
    };
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const o = asStep(await h.step({ budgetMs: 1000 }));
      counts.push(o.counts.listed);
      if (!o.more) break;
    }
    assert.deepEqual(counts, [10, 20, 25], 'one page per step, then verified and complete');
    assert.equal(h.cluster.patches.length, 25, 'each object once');
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
  });

  it('counts a concurrent write as a conflict and a deletion as gone, both done', async () => {
    const h = rotated({ objects: 6 });
    h.cluster.afterList = (page) => {
      h.cluster.afterList = undefined;
      const [a, b] = page;
      assert.ok(a && b);
      h.cluster.userWrite(`${a.namespace}/${a.name}`);
      h.cluster.objects.delete(`${b.namespace}/${b.name}`);
    };
    const o = asStep(await h.step());
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(o.counts.conflicts, 1);
    assert.equal(o.counts.gone, 1);
    assert.equal(o.counts.reencrypted, 4);
    assert.deepEqual(h.revision(2).progress.failed, []);
  });

  it('lists again from the start when the continue token expired (410)', async () => {
    const h = rotated();
    h.cluster.listCostMs = 1000;
    await h.step({ budgetMs: 1000 });
    h.cluster.expireNextToken = true;
    const o = asStep(await h.step());
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.deepEqual(h.stepLists, [
      [undefined, 'ns-0/s-018'],
      ['ns-0/s-018', undefined, 'ns-0/s-018', 'ns-1/s-013'],
    ]);
    // the first page is patched again, at its new resourceVersions: nothing left to write
    assertNoRepeatedPatch(h.cluster.patches);
    assert.equal(o.counts.reencrypted, 25);
    assert.equal(o.counts.unchanged, 10);
  });
});

describe('reconcileStep: degraded and recovered', () => {
  it('waits Degraded (recoverable) while the plugin is unhealthy, then resumes', async () => {
    const h = rotated();
    h.cluster.listCostMs = 1000;
    await h.step({ budgetMs: 1000 });
    assert.equal(h.cluster.patches.length, 10);

    h.observer.pluginHealth = { status: 'unhealthy', reason: 'Status: connection refused' };
    const down = asStep(await h.step({ budgetMs: 1000 }));
    assert.equal(down.step.kind, 'degraded');
    assert.ok(down.step.kind === 'degraded');
    assert.equal(down.step.recoverable, true);
    assert.match(down.step.reason, /KMS plugin unhealthy \(Status: connection refused\)/);
    assert.equal(down.phase, 'Degraded');
    assert.equal(down.more, true);
    assert.equal(h.cluster.patches.length, 10, 'nothing rewritten while the plugin is down');
    assert.match(h.revision(2).lastError ?? '', /KMS plugin unhealthy/);
    await h.step({ budgetMs: 1000 });
    assert.equal(types(h).filter((t) => t === 'migration.degraded').length, 1, 'announced once');

    h.observer.pluginHealth = { status: 'healthy' };
    const up = asStep(await h.step());
    assert.deepEqual(up.step, { kind: 'complete', verified: true });
    assert.equal(up.counts.listed, 25);
    assert.equal(h.cluster.patches.length, 25);
    assertNoRepeatedPatch(h.cluster.patches);
    assert.deepEqual(
      h.stepLists,
      [[undefined, 'ns-0/s-018'], [], [], ['ns-0/s-018', 'ns-1/s-013']],
      'nothing listed while the plugin was down, then resumed from the checkpoint',
    );
    const r = h.revision(2);
    assert.equal(r.phase, 'Completed');
    assert.equal(r.lastError, undefined, 'the cleared cause is not left behind');
  });

  it('ends Degraded, naming the offender, when the etcd scan finds an object under the old key', async () => {
    const h = rotated({ objects: 6 });
    h.cluster.get('ns-1/s-003').stuck = true;
    const o = asStep(await h.step());
    assert.equal(o.step.kind, 'degraded');
    assert.ok(o.step.kind === 'degraded');
    // a re-patch may still move it (docs/architecture.md R13): retried later, waited for
    assert.equal(o.step.recoverable, true);
    assert.equal(o.step.retrying, true);
    assert.match(o.step.reason, /1 object\(s\) still under an older key_id: secrets\/ns-1\/s-003/);
    assert.equal(o.phase, 'Degraded');
    assert.equal(o.more, true);
    const r = h.revision(2);
    assert.deepEqual(r.verification?.offenders, ['secrets/ns-1/s-003']);
    assert.equal(r.verification?.clean, false);
    assert.equal(r.lastError, o.step.reason);
    assert.equal(r.retry?.attempt, 0, 'the first retry pass is scheduled, none run yet');
    assert.ok(Date.parse(r.retry?.at ?? '') > h.clock.t);
    assert.deepEqual(types(h), [
      'revision.created',
      'verification.completed',
      'migration.degraded',
    ]);
    assert.equal(h.events.at(-1)?.data.reason, o.step.reason);
  });

  it('completes unverified, and says so, without an etcd verifier', async () => {
    const h = rotated({ objects: 6, verifier: false });
    const o = asStep(await h.step());
    assert.deepEqual(o.step, { kind: 'complete', verified: false, note: UNVERIFIED_NOTE });
    assert.equal(o.phase, 'Completed');
    const r = h.revision(2);
    assert.equal(r.verification, undefined);
    assert.equal(r.lastError, UNVERIFIED_NOTE);
    assert.equal(h.events.at(-1)?.type, 'migration.completed');
    assert.equal(h.events.at(-1)?.data.reason, UNVERIFIED_NOTE);
  });
});

describe('reconcileStep: forced rewrite', () => {
  it('records a forced revision of a Completed key and rewrites every object for real', async () => {
    const h = harness({ objects: 12 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    await h.step();
    assert.equal(h.revision(1).phase, 'Completed');
    const before = new Map(h.cluster.sorted().map((x) => [x.name, x.resourceVersion]));
    h.cluster.patches = [];
    h.clock.advance(60_000);

    const o = asStep(await h.step({ force: true }));

    assert.equal(o.revision, 'encryption-key-p-2');
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    const r = h.revision(2);
    assert.equal(r.forced, true);
    assert.equal(r.keyId, 'k1');
    assert.equal(r.phase, 'Completed');
    assert.equal(h.cluster.patches.length, 12);
    assert.ok(h.cluster.patches.every((p) => p.startsWith('forced:')));
    for (const x of h.cluster.sorted()) {
      assert.notEqual(x.resourceVersion, before.get(x.name), `${x.name} got a new resourceVersion`);
      assert.equal(x.annotations['rekey.dev/forced-rewrite'], 'encryption-key-p-2');
      assert.equal(x.keyId, 'k1');
    }
    assert.equal(o.counts.reencrypted, 12);

    // without force, the forced revision is simply done
    h.cluster.patches = [];
    const again = asStep(await h.step());
    assert.equal(again.revision, 'encryption-key-p-2');
    assert.equal(again.step.kind, 'nothing-to-do');
    assert.deepEqual(h.cluster.patches, []);
    assert.equal(h.store.all().length, 2);
  });

  it('continues an unfinished forced revision instead of starting another', async () => {
    const h = harness({ objects: 25 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    await h.step();
    h.cluster.patches = [];
    h.cluster.listCostMs = 1000;
    await h.step({ force: true, budgetMs: 1000 });
    await h.step({ force: true, budgetMs: 1000 });
    const o = asStep(await h.step({ force: true }));
    assert.equal(o.revision, 'encryption-key-p-2');
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(h.store.all().length, 2);
    assert.equal(h.cluster.patches.length, 25);
    assertNoRepeatedPatch(h.cluster.patches);
  });
});
