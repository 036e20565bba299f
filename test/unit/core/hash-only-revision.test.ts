// A hosted control plane (EKS, GKE, AKS): no reporter, so the only observation is the key_id hash
// every apiserver reports in its metrics. The hash alone records a revision, gates and migrates
// it, and the completion is unverified without etcd (exit 4), never "verified"; with etcd the proof
// compares each value's key_id by its hash. A later full report of the same key is no new key.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT } from '../../../functions/cli/output.ts';
import { exitCode } from '../../../functions/cli/reconcile.ts';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import type { Observation } from '../../../shared/domain/observation.ts';
import { UNVERIFIED_NOTE } from '../../../shared/domain/phase.ts';
import { rev } from '../../support/unit/domain-fixtures.ts';
import { A, asStep, type Harness, harness, P, T0 } from '../../support/unit/reconcile-harness.ts';

/** What the metrics observer gives: the hash of `keyId`, no key_id. */
const fromMetrics = (keyId: string, at: number): Observation => ({
  provider: P,
  keyId: '',
  keyIdHash: keyIdHash(keyId),
  source: 'apiserver-metrics',
  observedAt: new Date(at).toISOString(),
  kmsLabel: 'gcp primary projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2',
});

/** Every apiserver writes with `keyId` and reports its hash; nothing reports the key_id. */
function hosted(h: Harness, keyId: string): Harness {
  h.observer.observations = [fromMetrics(keyId, h.clock.t)];
  h.observer.pluginHealth = { status: 'unknown' };
  h.cluster.currentKeyId = keyId;
  h.adoption.reports.set(A, keyId);
  return h;
}

const untilComplete = { timedOut: false, untilComplete: true };

describe('a revision from the key_id hash alone', () => {
  it('is recorded with the hash and no key_id, migrates, and completes unverified without etcd (exit 4)', async () => {
    const h = hosted(harness({ objects: 5, keyId: 'k0', verifier: false }), 'k1');

    const o = asStep(await h.step());

    const r = h.revision(1);
    assert.equal(r.keyId, '');
    assert.equal(r.keyIdHash, keyIdHash('k1'));
    assert.equal(r.source, 'apiserver-metrics');
    assert.match(r.kmsLabel ?? '', /cryptoKeyVersions\/2$/);
    assert.equal(o.keyIdHash, keyIdHash('k1'));
    assert.deepEqual(o.step, { kind: 'complete', verified: false, note: UNVERIFIED_NOTE });
    assert.equal(o.phase, 'Completed');
    assert.equal(o.verified, false);
    assert.equal(o.counts.reencrypted, 5);
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k1'));
    assert.equal(exitCode(o, untilComplete), EXIT.unverifiable);
  });

  it('waits at the gate, by hash, until every live apiserver reports it', async () => {
    const h = hosted(harness({ objects: 3, keyId: 'k0', verifier: false }), 'k1');
    h.adoption.reports.set(A, 'k0');

    const o = asStep(await h.step());

    assert.equal(o.step.kind, 'wait-convergence');
    assert.deepEqual(h.cluster.patches, []);
  });

  it('with etcd configured anyway, is verified by comparing each value key_id hash', async () => {
    const h = hosted(harness({ objects: 4, keyId: 'k0' }), 'k1');

    const o = asStep(await h.step());

    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(exitCode(o, untilComplete), EXIT.ok);
  });

  it('with etcd, a value left under the old key is found by hash: not verified', async () => {
    const h = hosted(harness({ objects: 4, keyId: 'k0' }), 'k1');
    const [stuck] = h.cluster.sorted();
    assert.ok(stuck);
    stuck.stuck = true;

    const o = asStep(await h.step());

    assert.notEqual(o.phase, 'Completed');
    assert.equal(o.verified, false);
    assert.notEqual(exitCode(o, untilComplete), EXIT.ok);
  });

  it('a rotation seen in the metrics records the next revision; the same hash again records nothing', async () => {
    const h = hosted(harness({ objects: 2, keyId: 'k0', verifier: false }), 'k1');
    await h.step();
    h.clock.advance(60_000);
    await h.step();
    assert.equal(h.store.all().length, 1);

    hosted(h, 'k2');
    const o = asStep(await h.step());

    assert.equal(o.revision, 'encryption-key-p-2');
    assert.equal(h.revision(2).keyIdHash, keyIdHash('k2'));
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
  });

  it('a report of the full key_id later is the same key: no new revision, and the key_id is learnt', async () => {
    const h = harness({
      objects: 2,
      keyId: 'k1',
      verifier: false,
      revisions: [
        rev({
          number: 1,
          keyId: '',
          keyIdHash: keyIdHash('k1'),
          source: 'apiserver-metrics',
          phase: 'Completed',
          observedAt: new Date(T0 - 60_000).toISOString(),
        }),
      ],
    });
    h.adoption.reports.set(A, 'k1');
    h.observer.report('k1', h.clock.iso());

    await h.step();

    assert.equal(h.store.all().length, 1);
    assert.equal(h.revision(1).keyId, 'k1');
    assert.equal(h.revision(1).keyIdHash, keyIdHash('k1'));
  });

  it('a full revision seen again through the metrics (reporter gone) is no new key', async () => {
    const h = harness({
      objects: 2,
      keyId: 'k1',
      verifier: false,
      revisions: [
        rev({
          number: 1,
          keyId: 'k1',
          phase: 'Completed',
          observedAt: new Date(T0 - 60_000).toISOString(),
        }),
      ],
    });
    hosted(h, 'k1');

    await h.step();

    assert.equal(h.store.all().length, 1);
    assert.equal(h.revision(1).keyId, 'k1', 'a known key_id is not forgotten');
  });
});
