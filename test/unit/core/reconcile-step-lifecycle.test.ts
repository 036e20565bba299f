// A lifecycle that never lies and never sticks, on in-memory ports: a key rollback is recorded and
// migrated back (mid-migration too), of two new key_ids the one first seen last wins, a Degraded
// revision's refused and offending objects are re-patched with backoff until their cause is gone,
// and a brownout fails no object. Side effects are asserted as data.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Observation } from '../../../shared/domain/observation.ts';
import { UNVERIFIED_NOTE } from '../../../shared/domain/phase.ts';
import type { PatchAttempt } from '../../../shared/domain/rewrite-outcome.ts';
import { rev } from '../../support/unit/domain-fixtures.ts';
import {
  A,
  asStep,
  B,
  type Harness,
  harness,
  P,
  rotated,
  T0,
  types,
} from '../../support/unit/reconcile-harness.ts';

/** Objects found by name for retries, and attempts that do not wait (a brownout costs no time). */
function lifecycle(h: Harness): Harness {
  h.deps.lookup = h.cluster;
  h.deps.sleep = async () => {};
  return h;
}

const seen = (keyId: string, observedAt: number, firstSeenAt?: number): Observation => ({
  provider: P,
  keyId,
  source: 'plugin-status',
  observedAt: new Date(observedAt).toISOString(),
  ...(firstSeenAt === undefined ? {} : { firstSeenAt: new Date(firstSeenAt).toISOString() }),
});

/** Every node's plugin and every apiserver now use `keyId`. */
function everyoneOn(h: Harness, keyId: string) {
  h.observer.report(keyId, h.clock.iso());
  h.cluster.currentKeyId = keyId;
  for (const a of h.adoption.reports.keys()) h.adoption.reports.set(a, keyId);
}

async function untilSettled(h: Harness, over: Parameters<Harness['step']>[0] = {}) {
  for (let i = 0; i < 10; i++) {
    const o = asStep(await h.step(over));
    if (!o.more) return o;
  }
  assert.fail('did not settle in 10 steps');
}

const denial: Extract<PatchAttempt, { ok: false }> = {
  ok: false,
  status: 422,
  reason: 'Invalid',
  message:
    "secrets \"s-003\" is forbidden: ValidatingAdmissionPolicy 'deny-one' with binding 'deny-one' denied request: updates of this secret are denied",
};

describe('reconcileStep: a key rollback is recorded and migrated back', () => {
  it('K1 -> K2 (Completed) -> K1: a new revision for K1, everything back under it, verified', async () => {
    const h = lifecycle(rotated({ objects: 6 }));
    assert.deepEqual(asStep(await h.step()).step, { kind: 'complete', verified: true });
    h.clock.advance(60_000);

    everyoneOn(h, 'k1');
    const back = asStep(await h.step());

    assert.equal(back.revision, 'encryption-key-p-3');
    assert.equal(h.revision(3).keyId, 'k1');
    assert.deepEqual(back.step, { kind: 'complete', verified: true });
    assert.equal(back.counts.reencrypted, 6);
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k1'));
    assert.equal(types(h).filter((t) => t === 'revision.created').length, 2);
  });

  it('a rollback mid-migration: the K2 revision is left behind, K1 is migrated back, nothing waits forever', async () => {
    const h = lifecycle(rotated());
    h.cluster.listCostMs = 1000;
    const mid = asStep(await h.step({ budgetMs: 1000 }));
    assert.equal(mid.phase, 'Migrating');
    assert.equal(h.cluster.sorted().filter((x) => x.keyId === 'k2').length, 10);
    h.clock.advance(30_000);

    everyoneOn(h, 'k1');
    const last = await untilSettled(h, { budgetMs: 1000 });

    assert.equal(last.revision, 'encryption-key-p-3');
    assert.deepEqual(last.step, { kind: 'complete', verified: true });
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k1'));
    assert.equal(h.revision(2).phase, 'Migrating', 'the superseded revision is not completed');
  });

  it('while reports disagree nothing flips; once they all agree on K1, it is recorded', async () => {
    const h = lifecycle(rotated({ objects: 4 }));
    h.adoption.reports.set(B, 'k2');
    await h.step();
    assert.equal(h.revision(2).phase, 'Completed');
    h.clock.advance(60_000);
    h.cluster.patches = [];

    // node a went back to k1, node b has not yet
    h.observer.observations = [seen('k1', h.clock.t), seen('k2', h.clock.t)];
    h.adoption.reports.set(A, 'k1');
    const rollout = asStep(await h.step());
    assert.equal(rollout.revision, 'encryption-key-p-2');
    assert.equal(rollout.step.kind, 'nothing-to-do');
    assert.equal(h.store.all().length, 2);
    assert.deepEqual(h.cluster.patches, []);

    // a report of k1 last heard before revision 2 was observed says nothing of the cluster since
    h.observer.observations = [seen('k1', T0 - 60_000)];
    assert.equal(asStep(await h.step()).revision, 'encryption-key-p-2');
    assert.equal(h.store.all().length, 2);

    h.clock.advance(15_000);
    h.observer.observations = [seen('k1', h.clock.t), seen('k1', h.clock.t)];
    h.cluster.currentKeyId = 'k1';
    h.adoption.reports.set(B, 'k1');
    const agreed = asStep(await h.step());
    assert.equal(agreed.revision, 'encryption-key-p-3');
    assert.deepEqual(agreed.step, { kind: 'complete', verified: true });
  });
});

describe('reconcileStep: of two new key_ids, the one first seen last wins', () => {
  const cases = [
    // heartbeats (ms before T0) of the node on k3 and of the node on k2
    { name: 'the newer key has the older heartbeat', k3Beat: -5_000, k2Beat: 0 },
    { name: 'the newer key has the newer heartbeat', k3Beat: 0, k2Beat: -5_000 },
  ];
  for (const c of cases) {
    it(`${c.name}: k3 (first seen last) is recorded, k2 never is, and it completes`, async () => {
      const h = lifecycle(
        harness({
          objects: 5,
          revisions: [
            rev({
              number: 1,
              keyId: 'k1',
              phase: 'Completed',
              observedAt: new Date(T0 - 3_600_000).toISOString(),
            }),
          ],
        }),
      );
      h.cluster.currentKeyId = 'k3';
      h.adoption.reports.set(A, 'k3');
      // node b saw k2 a minute ago and lags; node a moved on to k3 ten seconds ago
      h.observer.observations = [
        seen('k3', T0 + c.k3Beat, T0 - 10_000),
        seen('k2', T0 + c.k2Beat, T0 - 60_000),
      ];
      let last = asStep(await h.step());
      for (let tick = 1; tick <= 3; tick++) {
        h.clock.advance(15_000);
        h.observer.observations = [
          seen('k3', h.clock.t, T0 - 10_000),
          seen('k2', h.clock.t, T0 - 60_000),
        ];
        last = asStep(await h.step());
      }
      assert.deepEqual(
        h.store.all().map((r) => [r.number, r.keyId]),
        [
          [1, 'k1'],
          [2, 'k3'],
        ],
      );
      assert.equal(last.revision, 'encryption-key-p-2');
      assert.equal(h.revision(2).phase, 'Completed');
      assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k3'));
    });
  }
});

describe('reconcileStep: Degraded is visible but not terminal', () => {
  it('an admission denial is re-patched with backoff; once lifted, the revision completes, verified, without --force', async () => {
    const h = lifecycle(rotated({ objects: 6 }));
    h.cluster.refused.set('ns-1/s-003', denial);

    const o = asStep(await h.step());
    assert.equal(o.phase, 'Degraded');
    assert.ok(o.step.kind === 'degraded');
    assert.equal(o.step.recoverable, false, 'someone has to allow the patch');
    assert.equal(o.step.retrying, true);
    assert.equal(o.more, false);
    assert.match(o.step.reason, /ns-1\/s-003 \(denied by ValidatingAdmissionPolicy "deny-one"/);
    const first = h.revision(2).retry;
    assert.equal(first?.attempt, 0);
    assert.ok(Date.parse(first?.at ?? '') > h.clock.t);
    const patched = h.cluster.patches.length;

    // a tick before the retry time does nothing for it
    h.clock.advance(1_000);
    assert.equal(asStep(await h.step()).phase, 'Degraded');
    assert.equal(h.cluster.patches.length, patched);

    // its time comes, still refused: re-patched once, found by name, the next pass later
    h.clock.t = Date.parse(first?.at ?? '');
    const lists = h.cluster.lists.length;
    assert.equal(asStep(await h.step()).phase, 'Degraded');
    assert.deepEqual(
      h.cluster.patches.slice(patched).map((p) => p.replace(/@.*/, '')),
      ['noop:ns-1/s-003'],
    );
    assert.deepEqual(h.cluster.lookups, ['secrets:ns-1/s-003']);
    assert.equal(h.cluster.lists.length, lists, 'nothing listed again');
    const second = h.revision(2).retry;
    assert.equal(second?.attempt, 1);
    assert.ok(Date.parse(second?.at ?? '') - h.clock.t > Date.parse(first?.at ?? '') - T0);
    assert.deepEqual(
      h.revision(2).progress.failed.map((f) => f.name),
      ['s-003'],
      'named once, however often refused',
    );
    assert.equal(types(h).filter((t) => t === 'migration.degraded').length, 1, 'announced once');

    // the policy is lifted: the next pass, at its time, completes the revision
    h.cluster.refused.clear();
    h.clock.advance(1_000);
    await h.step();
    assert.equal(h.cluster.patches.length, patched + 1, 'still waits for its time');
    h.clock.t = Date.parse(second?.at ?? '');
    const done = asStep(await h.step());

    assert.deepEqual(done.step, { kind: 'complete', verified: true });
    assert.equal(done.counts.failed, 0);
    const r = h.revision(2);
    assert.deepEqual(r.progress.failed, []);
    assert.equal(r.retry, undefined);
    assert.equal(r.lastError, undefined);
    assert.equal(r.verification?.clean, true);
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
    assert.equal(types(h).at(-1), 'migration.completed');
  });

  it('an operator run (retryNow) re-patches at once, once per step', async () => {
    const h = lifecycle(rotated({ objects: 6 }));
    h.cluster.refused.set('ns-1/s-003', denial);
    await h.step();
    const patched = h.cluster.patches.length;

    const again = asStep(await h.step({ retryNow: true }));
    assert.equal(again.phase, 'Degraded');
    assert.equal(h.cluster.patches.length, patched + 1, 'one pass in the step, not a loop');

    h.cluster.refused.clear();
    const done = asStep(await h.step({ retryNow: true }));
    assert.deepEqual(done.step, { kind: 'complete', verified: true });
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
  });

  it('an object the scan still finds under the old key is re-patched once its retry is due', async () => {
    const h = lifecycle(rotated({ objects: 6 }));
    h.cluster.get('ns-1/s-003').stuck = true;
    const o = asStep(await h.step());
    assert.ok(o.step.kind === 'degraded' && o.step.recoverable);

    h.cluster.get('ns-1/s-003').stuck = false;
    h.clock.t = Date.parse(h.revision(2).retry?.at ?? '');
    const done = asStep(await h.step());
    assert.deepEqual(done.step, { kind: 'complete', verified: true });
    assert.equal(h.verifier?.scans, 2, 'verified again after the pass');
    assert.equal(h.cluster.get('ns-1/s-003').keyId, 'k2');
  });

  it('without a lookup, the resource of a refused object is listed again instead', async () => {
    const h = lifecycle(rotated({ objects: 6 }));
    delete h.deps.lookup;
    h.cluster.refused.set('ns-1/s-003', denial);
    await h.step();
    h.cluster.refused.clear();
    h.clock.t = Date.parse(h.revision(2).retry?.at ?? '');
    const lists = h.cluster.lists.length;

    const done = asStep(await h.step());
    assert.deepEqual(done.step, { kind: 'complete', verified: true });
    assert.equal(h.cluster.lists.length, lists + 1, 'listed again from the start');
    assert.deepEqual(h.revision(2).progress.failed, []);
    assert.equal(h.cluster.get('ns-1/s-003').keyId, 'k2');
  });

  it('without etcd, a refused object is retried too and the revision completes, unverified', async () => {
    const h = lifecycle(rotated({ objects: 6, verifier: false }));
    h.cluster.refused.set('ns-1/s-003', denial);
    const o = asStep(await h.step());
    assert.ok(o.step.kind === 'degraded' && o.step.retrying);

    h.cluster.refused.clear();
    h.clock.t = Date.parse(h.revision(2).retry?.at ?? '');
    const done = asStep(await h.step());
    assert.deepEqual(done.step, { kind: 'complete', verified: false, note: UNVERIFIED_NOTE });
    assert.deepEqual(h.revision(2).progress.failed, []);
  });
});

describe('reconcileStep: a brownout fails no object', () => {
  const brownout: Extract<PatchAttempt, { ok: false }> = {
    ok: false,
    status: 503,
    reason: 'ServiceUnavailable',
    message: 'etcdserver: leader changed',
  };

  it('patches that keep failing transiently stop the step at its checkpoint; the next step goes on', async () => {
    const h = lifecycle(rotated());
    // the apiserver browns out once the first page (10 objects) is rewritten
    const patch = h.cluster.noOpPatch.bind(h.cluster);
    let patches = 0;
    h.cluster.noOpPatch = (resource, ref, options) => {
      if (++patches === 11) h.cluster.patchesFailWith = brownout;
      return patch(resource, ref, options);
    };

    const o = asStep(await h.step());
    assert.ok(o.step.kind === 'degraded');
    assert.equal(o.step.recoverable, true);
    assert.match(o.step.reason, /not answering \(HTTP 503 ServiceUnavailable/);
    assert.equal(o.more, true);
    assert.equal(o.counts.failed, 0);
    const r = h.revision(2);
    assert.deepEqual(r.progress.failed, []);
    assert.equal(r.progress.resources[0]?.continueToken, 'ns-0/s-018', 'the first page is kept');
    assert.equal(r.progress.resources[0]?.counts.listed, 10, 'the browned-out page is not counted');

    h.cluster.patchesFailWith = undefined;
    const up = asStep(await h.step());
    assert.deepEqual(up.step, { kind: 'complete', verified: true });
    assert.equal(up.counts.failed, 0);
    assert.equal(
      h.cluster.lists.at(-2)?.continueToken,
      'ns-0/s-018',
      'resumed from the checkpoint',
    );
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
  });

  it('lists that keep failing transiently end the step Degraded (recoverable) instead of throwing', async () => {
    const h = lifecycle(rotated({ objects: 6 }));
    h.cluster.listsFailWith = Object.assign(new Error('list secrets: HTTP 429 TooManyRequests'), {
      retryable: true as const,
    });
    const o = asStep(await h.step());
    assert.ok(o.step.kind === 'degraded');
    assert.equal(o.step.recoverable, true);
    assert.match(o.step.reason, /HTTP 429/);
    assert.equal(o.more, true);

    h.cluster.listsFailWith = undefined;
    const up = asStep(await h.step());
    assert.deepEqual(up.step, { kind: 'complete', verified: true });
    assert.equal(up.counts.failed, 0);
  });
});
