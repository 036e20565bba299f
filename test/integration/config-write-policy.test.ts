// The node agent in write mode may create one Secret only: configuration revision 1 as found. RBAC
// cannot limit `create` by name, so infra/components/config-write adds a ValidatingAdmissionPolicy;
// here it is created as kustomize builds it, on a real apiserver, and the reporter's ServiceAccount
// (a token the apiserver issued) tries what a compromised agent would: a revision rolling out text
// of its choosing, a revision 1 that carries a switch, any other Secret. Each is refused by the
// policy; the revision 1 the agent really writes (the same codec) is created; rekey's own identity
// is not held to it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import {
  configRevisionName,
  configRevisionToSecret,
} from '../../shared/adapters/k8s/config-revision-store.ts';
import type { ConfigRevisionRecord } from '../../shared/domain/encryption-revisions/switch-state.ts';
import {
  agentApis,
  installConfigWriteGrant,
  refusedByPolicy,
  rolloutRevisionByTheAgent,
} from '../support/config-write-agents.ts';
import { coreApi } from '../support/kube.ts';
import { STATE_NAMESPACE } from '../support/rekey-fixture.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

const TEXT =
  'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n';

/** Revision 1 as the agent records it (the store's own codec), with any changes a test makes. */
function found(
  over: Partial<ConfigRevisionRecord> = {},
  annotations: Record<string, string> = {},
): V1Secret {
  const record: ConfigRevisionRecord = { number: 1, stage: 'found', hash: 'h', state: 'applied' };
  const s = configRevisionToSecret({ ...record, ...over }, STATE_NAMESPACE, TEXT);
  return {
    ...s,
    metadata: { ...s.metadata, annotations: { ...s.metadata?.annotations, ...annotations } },
  };
}

describe('components/config-write: the node agent creates revision 1 as found, nothing else', () => {
  let sb: TestSandbox;
  let agent: CoreV1Api;

  before(async () => {
    sb = await startSandbox();
    await installConfigWriteGrant(sb.env);
    [agent] = (await agentApis(sb.env)) as [CoreV1Api];
  });
  after(async () => {
    await sb?.stop();
  });

  const create = (body: V1Secret) =>
    agent.createNamespacedSecret({ namespace: STATE_NAMESPACE, body });

  async function assertRefused(what: string, body: V1Secret) {
    await assert.rejects(create(body), (err) => {
      assert.ok(refusedByPolicy(err), `${what}: refused by the policy, not otherwise: ${err}`);
      return true;
    });
    const names = (
      await coreApi(sb.env).listNamespacedSecret({ namespace: STATE_NAMESPACE })
    ).items.map((s) => s.metadata?.name);
    assert.ok(!names.includes(body.metadata?.name), `${what}: not created`);
  }

  it('refuses a revision rolling out, a revision 1 that carries a switch, and any other Secret', async () => {
    await assertRefused('revision 2 rolling out', rolloutRevisionByTheAgent(2));
    await assertRefused('revision 1 rolling out', found({ state: 'rolling-out' }));
    await assertRefused('revision 1 with a switch', found({}, { 'rekey.dev/config-switch': '{}' }));
    await assertRefused('revision 1 numbered 7', found({}, { 'rekey.dev/config-number': '7' }));
    await assertRefused('another Secret', { metadata: { name: 'not-a-revision' }, type: 'Opaque' });
  });

  it('creates revision 1 as the agent records it, and holds rekey itself to nothing', async () => {
    const created = await create(found());
    assert.equal(created.metadata?.name, configRevisionName(1));
    // the revisions after it are rekey's to write (here the admin stands in for reconcile)
    const next = await coreApi(sb.env).createNamespacedSecret({
      namespace: STATE_NAMESPACE,
      body: rolloutRevisionByTheAgent(2),
    });
    assert.equal(next.metadata?.name, configRevisionName(2));
  });
});
