// The proof every later promise rests on, against a real kube-apiserver + etcd + KMS v2 plugin:
// after a rotation, a no-op update re-encrypts a stale object exactly once, and etcd shows it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import { rotate, status, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { noOpPatch, ref, seedSecrets } from '../support/secrets.ts';

describe('sandbox proof: one apiserver', () => {
  let sb: TestSandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(() => sb?.stop());

  it('re-encrypts a stale secret on the first no-op update only, and etcd shows the new key', async (t) => {
    const api = coreApi(sb.env);
    const ns = 'proof';
    const seeded = await seedSecrets(api, ns, { count: 5 });

    const before1 = await keyIdsInEtcd(sb.env, ns);
    assert.equal(before1.size, 5);
    for (const [name, keyId] of before1) assert.equal(keyId, 'local-1', `${name} under local-1`);

    const k2 = await rotate({ dir: sb.dir });
    assert.equal(k2, 'local-2');
    const ms = await waitForKeyId(k2, { dir: sb.dir });
    t.diagnostic(`apiserver reported ${k2} ${(ms / 1000).toFixed(1)} s after rotate`);
    const [s0] = await status({ dir: sb.dir });
    assert.equal(s0?.keyIdHash, keyIdHash('local-2'), 'the metric carries sha256:hex(sha256(K2))');

    const target = ref(seeded[0] as (typeof seeded)[0]);
    const first = await noOpPatch(api, target);
    assert.notEqual(first.metadata?.resourceVersion, target.resourceVersion, 'stale: rewritten');

    const after1 = await keyIdsInEtcd(sb.env, ns);
    assert.equal(after1.get(target.name), 'local-2');
    for (const [name, keyId] of after1) {
      if (name !== target.name) assert.equal(keyId, 'local-1', `${name} untouched`);
    }

    const second = await noOpPatch(api, {
      ...target,
      resourceVersion: first.metadata?.resourceVersion ?? '',
    });
    assert.equal(
      second.metadata?.resourceVersion,
      first.metadata?.resourceVersion,
      'not stale: no write',
    );
    assert.equal((await keyIdsInEtcd(sb.env, ns)).get(target.name), 'local-2');

    const readBack = await api.readNamespacedSecret({ name: target.name, namespace: ns });
    assert.deepEqual(readBack.data, seeded[0]?.data, 'data reads back byte for byte');
  });
});
