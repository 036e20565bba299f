// reconcileStep over in-memory ports: recording revisions and the convergence gate. Every side
// effect (patches, lists, store writes, events, lock calls) is asserted as data.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import {
  A,
  asStep,
  assertNoRepeatedPatch,
  B,
  harness,
  P,
  rotated,
  T0,
  types,
} from '../../support/unit/reconcile-harness.ts';

describe('reconcileStep: recording revisions', () => {
  it('records the first observation as revision 1 and announces it', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');

    const o = asStep(await h.step());

    assert.equal(o.revision, 'encryption-key-p-1');
    assert.equal(o.keyIdHash, keyIdHash('k1'));
    assert.deepEqual(
      h.store.all().map((r) => [r.name, r.keyId, r.number, r.source]),
      [['encryption-key-p-1', 'k1', 1, 'plugin-status']],
    );
    assert.equal(h.events[0]?.type, 'revision.created');
    assert.deepEqual(h.events[0]?.data, {
      provider: P,
      revision: 'encryption-key-p-1',
      keyIdHash: keyIdHash('k1'),
      counts: {
        listed: 0,
        reencrypted: 0,
        unchanged: 0,
        conflicts: 0,
        gone: 0,
        failed: 0,
        retried: 0,
        alreadyCurrent: 0,
      },
    });
    assert.ok(!JSON.stringify(h.events).includes('"k1"'), 'events carry the hash, not the key_id');
    // the baseline: every object is already under k1, so the rewrite writes nothing
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(o.counts.unchanged, 3);
    assert.equal(o.counts.reencrypted, 0);
    // one holder per step (the process's name plus a step id): concurrent steps of one process exclude each other
    assert.match(h.lock.calls.at(0) ?? '', /^acquire:rekey-p:me\/[0-9a-f]{8}$/);
    assert.deepEqual(h.lock.calls.at(-1), 'release:rekey-p');
    assert.equal(h.lock.held.size, 0);
  });

  it('two concurrent steps of one process: one works, the other is busy', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    const [a, b] = await Promise.all([h.step(), h.step()]);
    assert.deepEqual([a.kind, b.kind].sort(), ['busy', 'step']);
  });

  it('says so when no key_id is observed and no revision exists', async () => {
    const h = harness();
    const o = await h.step();
    assert.equal(o.kind, 'no-key-id');
    assert.deepEqual(h.store.all(), []);
    assert.deepEqual(h.cluster.patches, []);
  });

  it('records a duplicate observation once', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    await h.step();
    h.clock.advance(1000);
    h.observer.report('k1', h.clock.iso());
    await h.step();
    await h.step();
    assert.deepEqual(
      h.store.all().map((r) => r.name),
      ['encryption-key-p-1'],
    );
    assert.equal(types(h).filter((t) => t === 'revision.created').length, 1);
  });

  it('ignores an older key_id reported after the newer revision exists', async () => {
    const h = rotated();
    await h.step();
    assert.equal(h.revision(2).keyId, 'k2');
    const before = h.store.all().length;
    h.cluster.patches = [];

    // a late report of the previous key (and out of order with the current one)
    h.observer.observations = [
      { provider: P, keyId: 'k2', source: 'plugin-status', observedAt: h.clock.iso() },
      {
        provider: P,
        keyId: 'k1',
        source: 'apiserver-metrics',
        observedAt: new Date(T0 - 1000).toISOString(),
      },
    ];
    const o = asStep(await h.step());
    assert.equal(o.revision, 'encryption-key-p-2');
    assert.equal(h.store.all().length, before);

    // an unknown key_id observed before revision 2's observation: late, not a rotation
    h.observer.report('k0', new Date(T0 - 60_000).toISOString());
    const late = asStep(await h.step());
    assert.equal(late.revision, 'encryption-key-p-2');
    assert.equal(h.store.all().length, before);
    assert.equal(types(h).filter((t) => t === 'revision.created').length, 1);
    assert.deepEqual(h.cluster.patches, [], 'nothing rewritten for a late report');
  });

  it('does nothing while another holder has the lock', async () => {
    const h = rotated();
    await h.lock.tryAcquire('rekey-p', 'other-pod', 60_000);
    const o = await h.step();
    assert.deepEqual(o, { kind: 'busy', provider: P, heldBy: 'other-pod' });
    assert.equal(h.store.all().length, 1, 'no revision recorded');
    assert.deepEqual(h.cluster.patches, []);
    assert.deepEqual(h.events, []);
    assert.equal(h.lock.held.get('rekey-p')?.holder, 'other-pod', 'its lock is left alone');
  });
});

describe('reconcileStep: convergence gate', () => {
  it('waits, patching nothing, while an apiserver has not adopted the key', async () => {
    const h = rotated();
    h.adoption.reports.set(B, 'k1');

    const o = asStep(await h.step());

    assert.equal(o.revision, 'encryption-key-p-2');
    assert.equal(o.step.kind, 'wait-convergence');
    assert.ok(o.step.kind === 'wait-convergence');
    assert.deepEqual(o.step.pending, [B]);
    assert.equal(o.phase, 'Converging');
    assert.equal(o.more, true);
    assert.deepEqual(h.cluster.patches, []);
    assert.deepEqual(h.cluster.lists, []);
    assert.equal(h.adoption.hurries, 1);
    const r = h.revision(2);
    assert.equal(r.phase, 'Converging');
    assert.equal(r.convergence?.converged, false);
    assert.deepEqual(r.convergence?.pending, [B]);
    assert.deepEqual(types(h), ['revision.created']);
  });

  it('once converged, migrates page by page with a checkpoint each, verifies and completes', async () => {
    const h = rotated();
    h.adoption.reports.set(B, 'k1');
    await h.step();
    h.updates.length = 0;
    h.adoption.reports.set(B, 'k2');
    h.clock.advance(5000);

    const o = asStep(await h.step());

    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(o.phase, 'Completed');
    assert.equal(o.more, false);
    assert.equal(o.counts.listed, 25);
    assert.equal(o.counts.reencrypted, 25);
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
    assert.equal(h.cluster.patches.length, 25);
    assert.ok(h.cluster.patches.every((p) => p.startsWith('noop:')));
    assertNoRepeatedPatch(h.cluster.patches);
    assert.deepEqual(
      h.cluster.lists.map((l) => l.limit),
      [10, 10, 10],
    );

    // one store write per page, carrying that page's checkpoint, in order
    const checkpoints = h.updates
      .map((r) => r.progress.resources[0])
      .filter((cp) => cp !== undefined)
      .map((cp) => `${cp.counts.listed}:${cp.done}:${cp.continueToken ?? '-'}`);
    const pages = [...new Set(checkpoints)].filter((c) => !c.startsWith('0:'));
    assert.deepEqual(pages, ['10:false:ns-0/s-018', '20:false:ns-1/s-013', '25:true:-']);
    assert.deepEqual(
      h.updates.map((r) => r.phase),
      ['Migrating', 'Migrating', 'Migrating', 'Migrating', 'Verifying', 'Verifying', 'Completed'],
    );
    assert.equal(h.lock.calls.filter((c) => c.startsWith('renew:')).length, 3);

    const r = h.revision(2);
    assert.equal(r.phase, 'Completed');
    assert.equal(r.verification?.clean, true);
    assert.equal(r.lastError, undefined);
    assert.equal(h.verifier?.scans, 1);
    assert.deepEqual(types(h), [
      'revision.created',
      'verification.completed',
      'migration.completed',
    ]);
    assert.equal(h.events.at(-1)?.data.counts?.reencrypted, 25);
  });

  it('a Completed revision is left alone', async () => {
    const h = rotated({ objects: 5 });
    await h.step();
    const writes = h.updates.length;
    h.cluster.patches = [];
    const o = asStep(await h.step());
    assert.equal(o.step.kind, 'nothing-to-do');
    assert.equal(o.more, false);
    assert.deepEqual(h.cluster.patches, []);
    assert.equal(h.updates.length, writes);
  });
});
