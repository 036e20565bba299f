// Two kube-apiservers on one etcd, each with its own KMS plugin: a rewrite through an apiserver
// that has not adopted the new key_id does nothing, which is why rekey gates on convergence.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coordinationApi, coreApi } from '../support/kube.ts';
import { rotate, status, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { noOpPatch, ref, seedSecrets } from '../support/secrets.ts';

describe('sandbox proof: two apiservers', () => {
  let sb: TestSandbox;
  before(async () => {
    sb = await startSandbox({ apiservers: 2 });
  });
  after(() => sb?.stop());

  it('gives each apiserver its own identity: two Leases, two apiserver_id_hash values', async () => {
    const leases = await coordinationApi(sb.env).listNamespacedLease({
      namespace: 'kube-system',
      labelSelector: 'apiserver.kubernetes.io/identity=kube-apiserver',
    });
    assert.equal(leases.items.length, 2);
    const s = await status({ dir: sb.dir });
    assert.equal(new Set(s.map((x) => x.apiserverIdHash)).size, 2);
    assert.deepEqual(
      s.map((x) => x.keyId),
      ['local-1', 'local-1'],
    );
  });

  it('a no-op update through the apiserver that has not adopted K2 changes nothing', async (t) => {
    const viaA = coreApi(sb.env, { apiserver: 0 });
    const viaB = coreApi(sb.env, { apiserver: 1 });
    const [seeded] = await seedSecrets(viaA, 'ha', { count: 1 });
    assert.ok(seeded);
    const target = ref(seeded);

    const k2 = await rotate({ dir: sb.dir, only: [0] });
    const ms = await waitForKeyId(k2, { dir: sb.dir, only: [0] });
    t.diagnostic(`apiserver A reported ${k2} after ${(ms / 1000).toFixed(1)} s`);
    const s = await status({ dir: sb.dir });
    assert.deepEqual(
      s.map((x) => x.keyId),
      [k2, 'local-1'],
      'A adopted K2, B still on K1',
    );

    const throughB = await noOpPatch(viaB, target);
    assert.equal(
      throughB.metadata?.resourceVersion,
      target.resourceVersion,
      'B: not stale, no write',
    );
    assert.equal((await keyIdsInEtcd(sb.env, 'ha')).get(target.name), 'local-1');

    const throughA = await noOpPatch(viaA, target);
    assert.notEqual(
      throughA.metadata?.resourceVersion,
      target.resourceVersion,
      'A: stale, rewritten',
    );
    assert.equal((await keyIdsInEtcd(sb.env, 'ha')).get(target.name), k2);

    // B reads what A wrote under K2: its own plugin shares the keyring, as real plugins share a KMS.
    const readViaB = await viaB.readNamespacedSecret({ name: target.name, namespace: 'ha' });
    assert.deepEqual(readViaB.data, seeded.data);
  });
});
