// rekey's own write while it rewrites a resource is the revision Secret in its state namespace, and
// only that: a ConfigMap with the same namespace and name is the user's, and both the migration and
// the retry pass of a Degraded revision must rewrite it (shared/domain/revision-secret.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PatchAttempt } from '../../../shared/domain/rewrite-outcome.ts';
import { asStep, type Harness, rotated } from '../../support/unit/reconcile-harness.ts';

const NS = 'rekey-state';
const REVISION = 'encryption-key-p-2';
const SAME_NAME = `${NS}/${REVISION}`;

/** A rotated cluster holding, beside its objects, one named like revision 2 in the state namespace. */
function withNamesake(): Harness {
  const h = rotated({ objects: 4 });
  h.deps.lookup = h.cluster;
  h.deps.sleep = async () => {};
  h.cluster.objects.set(SAME_NAME, {
    namespace: NS,
    name: REVISION,
    uid: 'uid-namesake',
    resourceVersion: h.cluster.nextRv(),
    keyId: 'k1',
    annotations: {},
  });
  return h;
}

const patchesOf = (h: Harness, key: string) =>
  h.cluster.patches.filter((p) => p.replace(/^\w+:|@.*$/g, '') === key);

const denial: Extract<PatchAttempt, { ok: false }> = {
  ok: false,
  status: 422,
  reason: 'Invalid',
  message: 'configmaps "encryption-key-p-2" is forbidden: denied by a test policy',
};

describe('own write: the revision Secret only, in the migration and the retry pass', () => {
  it('rewrites a ConfigMap named like the revision, and completes verified', async () => {
    const h = withNamesake();
    const o = asStep(await h.step({ namespace: NS, resources: ['configmaps'] }));
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(patchesOf(h, SAME_NAME).length, 1);
    assert.equal(h.cluster.get(SAME_NAME).keyId, 'k2');
  });

  it('never patches the revision Secret itself while migrating secrets', async () => {
    const h = withNamesake();
    await h.step({ namespace: NS });
    assert.deepEqual(patchesOf(h, SAME_NAME), []);
    assert.ok(h.cluster.patches.length >= 4, 'the other secrets were patched');
  });

  it('the retry pass re-patches a refused ConfigMap named like the revision, then completes', async () => {
    const h = withNamesake();
    const over = { namespace: NS, resources: ['configmaps'] };
    h.cluster.refused.set(SAME_NAME, denial);
    const first = asStep(await h.step(over));
    assert.equal(first.phase, 'Degraded');
    const at = h.revision(2).retry?.at;
    assert.ok(at, 'a retry pass is scheduled');

    h.cluster.refused.clear();
    h.clock.t = Date.parse(at);
    const done = asStep(await h.step(over));

    assert.deepEqual(h.cluster.lookups, [`configmaps:${SAME_NAME}`]);
    assert.equal(patchesOf(h, SAME_NAME).length, 2, 'refused once, then re-patched');
    assert.deepEqual(done.step, { kind: 'complete', verified: true });
    assert.equal(h.cluster.get(SAME_NAME).keyId, 'k2');
  });
});
