// Objects that make naive rewrites fail: deleted between list and patch, immutable, ~1 MiB, held
// by a finalizer while being deleted, in a terminating namespace, and one an admission policy
// refuses to update. rekey rewrites what it can, records the refusal by name, and says Degraded.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi, kubeConfig } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { rotate } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { ensureNamespace } from '../support/secrets.ts';
import { untilSettled } from '../support/settle.ts';

const NS = 'edge';
const HOLD = 'rekey.dev/test-hold';
let armed = false; // delete 'deleted-mid-run' during the rotation's migration, not the baseline

describe('rekey: edge cases on the real apiserver', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  before(async () => {
    sb = await startSandbox();
    const api = coreApi(sb.env);
    await ensureNamespace(api, NS);
    const make = (name: string, extra: object = {}, bytes = 32) =>
      api.createNamespacedSecret({
        namespace: NS,
        body: { metadata: { name }, data: { v: randomBytes(bytes).toString('base64') }, ...extra },
      });
    await make('plain');
    await make('deleted-mid-run');
    await make('immutable', { immutable: true });
    await make('one-mebibyte', {}, 1_000_000);
    await api.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'finalizer-deleting', finalizers: [HOLD] }, data: { v: 'eA==' } },
    });
    await api.deleteNamespacedSecret({ name: 'finalizer-deleting', namespace: NS });
    await api.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: 'denied', labels: { 'rekey-test/deny-updates': 'true' } },
        data: { v: 'eQ==' },
      },
    });
    await ensureNamespace(api, 'terminating');
    await api.createNamespacedSecret({
      namespace: 'terminating',
      body: { metadata: { name: 'held', finalizers: [HOLD] }, data: { v: 'eg==' } },
    });
    await api.deleteNamespace({ name: 'terminating' });

    // an admission policy that denies every update of labelled secrets, as a strict webhook would
    const adm = kubeConfig(sb.env).makeApiClient(AdmissionregistrationV1Api);
    await adm.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: 'deny-labelled-secret-updates' },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: [''],
                apiVersions: ['v1'],
                operations: ['UPDATE'],
                resources: ['secrets'],
              },
            ],
          },
          validations: [
            {
              expression:
                "!has(object.metadata.labels) || !('rekey-test/deny-updates' in object.metadata.labels)",
              message: 'updates of this secret are denied by policy',
            },
          ],
        },
      },
    });
    await adm.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: 'deny-labelled-secret-updates' },
        spec: { policyName: 'deny-labelled-secret-updates', validationActions: ['Deny'] },
      },
    });
    rekey = rekeyFor(sb.env);
    // delete one secret between rekey's list and its patch, deterministically
    const patch = rekey.deps.rewriter.noOpPatch;
    rekey.deps.rewriter.noOpPatch = async (resource, ref) => {
      if (armed && ref.name === 'deleted-mid-run' && ref.namespace === NS) {
        await api.deleteNamespacedSecret({ name: ref.name, namespace: NS }).catch(() => {});
      }
      return patch(resource, ref);
    };
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('rewrites every object it may, names the one it may not, and never crashes', async (t) => {
    await untilSettled(rekey, 120_000); // baseline under K1 (the policy already refuses 'denied')
    const k2 = await rotate({ dir: sb.dir });
    armed = true;
    const steps = await untilSettled(rekey, 180_000, { keyId: k2 });
    const last = steps.at(-1);
    assert.ok(last?.kind === 'step');
    t.diagnostic(JSON.stringify(last));
    assert.equal(last.phase, 'Degraded');
    assert.equal(last.step.kind, 'degraded');
    assert.match('reason' in last.step ? last.step.reason : '', /secrets\/edge\/denied/);
    assert.equal(last.counts.failed, 1);
    const stored = (await rekey.deps.store.list(sb.env.kms.providerName)).find(
      (s) => s.revision.name === last.revision,
    );
    assert.deepEqual(
      stored?.revision.progress.failed.map((f) => [f.namespace, f.name]),
      [[NS, 'denied']],
    );
    assert.match(stored?.revision.progress.failed[0]?.reason ?? '', /denied|policy/i);

    const edge = await keyIdsInEtcd(sb.env, NS);
    assert.equal(
      edge.get('denied'),
      'local-1',
      'the refused object is still under K1, and reported',
    );
    assert.equal(edge.has('deleted-mid-run'), false);
    for (const name of ['plain', 'immutable', 'one-mebibyte', 'finalizer-deleting']) {
      assert.equal(edge.get(name), k2, `${name} re-encrypted`);
    }
    assert.equal(
      (await keyIdsInEtcd(sb.env, 'terminating')).get('held'),
      k2,
      'secret in a terminating namespace',
    );
    assert.equal(last.counts.gone, 1, 'the secret deleted between list and patch counts as gone');
  });
});
