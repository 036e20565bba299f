// Stage 3 of a switch leaves alone the Secret that stores its `write` revision (each checkpoint save
// writes it under the new provider anyway), and only that Secret: a ConfigMap, or an object of any
// other resource, with the same namespace and name is the user's, and is rewritten like the rest,
// as a key_id migration does (shared/core/migrate-revision.ts). The simulated cluster lists the same
// objects for every resource, so one name in scope is both a Secret and a ConfigMap here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { switchEncryption } from '../../../shared/core/switch-encryption.ts';
import { fakeSwitchCluster } from '../../support/unit/fake-switch-cluster.ts';

const once = { untilComplete: false, deadline: Number.MAX_SAFE_INTEGER };
const target = { type: 'kms' as const, name: 'kms-x' };

describe('switchEncryption stage 3: the revision it checkpoints on', () => {
  it('skips the revision Secret but rewrites a ConfigMap of the same namespace and name', async () => {
    const { cluster, deps } = fakeSwitchCluster();
    // revision 3 (write) is stored as ns/rev-3, listed among the objects in scope
    cluster.etcd.set('rev-3', 'identity');
    cluster.revisionObjects.set(3, 'rev-3');
    const request = { target, resources: ['configmaps', 'secrets'] };
    for (let i = 0; i < 4 && cluster.secrets.get(3)?.record.migration !== 'verified'; i++) {
      const r = await switchEncryption(deps, request, once);
      assert.notEqual(r.state, 'degraded', r.message);
      cluster.agentsTick();
      cluster.reload();
    }
    assert.equal(cluster.secrets.get(3)?.record.migration, 'verified');
    assert.ok(cluster.resourcePatches.includes('configmaps ns/rev-3'), 'the user ConfigMap');
    assert.equal(cluster.resourcePatches.includes('secrets ns/rev-3'), false, 'the revision');
    assert.ok(cluster.resourcePatches.includes('configmaps ns/s-1'));
    assert.ok(cluster.resourcePatches.includes('secrets ns/s-1'));
  });
});
