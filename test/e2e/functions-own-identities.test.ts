// End to end, as infra/ deploys rekey: four processes from the functions' own entry points, each
// as its own ServiceAccount with a real token and exactly the RBAC of infra/base. The trigger
// functions hand their steps to reconcile (REKEY_STEP_MODE=delegate) through a broker stand-in;
// a rotation completes, proven from etcd. So the per-function grants are not only minimal
// (test/integration/infra-rbac.test.ts) but enough: any call a function makes that its identity
// may not would fail this rotation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { Webhook } from 'standardwebhooks';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { type Deployed, deployFunctions, FUNCTIONS } from '../support/deployed-functions.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { eventFixture, triggermeshEvent } from '../support/event-fixtures.ts';
import { deliver } from '../support/knative-broker.ts';
import { coreApi, mergePatch } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { PING } from '../support/rekey-serve.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';
import { waitForObservation } from '../support/settle.ts';

const WEBHOOK_SECRET = `whsec_${Buffer.from('rekey e2e identities secret').toString('base64')}`;
describe('e2e: each function as its own least-privilege ServiceAccount', () => {
  let sb: TestSandbox;
  let deployed: Deployed;
  let rekey: RekeyUnderTest;

  before(async () => {
    sb = await startSandbox();
    await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 100, prefix: 'own-id' });
    deployed = await deployFunctions(sb.env, sb.dir, {
      webhook: { REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET },
    });
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    await deployed?.stop();
    rekey?.close();
    await sb?.stop();
  });

  const newest = async () =>
    (await rekey.deps.store.list(sb.env.kms.providerName))
      .map((s) => s.revision)
      .sort((a, b) => b.number - a.number)[0];
  const outputs = () => FUNCTIONS.map((n) => `--- ${n}:\n${deployed.fn[n].output()}`).join('\n');

  async function tickUntil(done: () => Promise<boolean>, limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!(await done())) {
      assert.ok(Date.now() < deadline, `not done in ${limitMs / 1000} s\n${outputs()}`);
      const r = await deliver(`${deployed.fn.reconcile.base}/reconcile`, PING);
      assert.equal(r.status, 200, `tick: ${r.body}\n${outputs()}`);
      await new Promise((res) => setTimeout(res, 2000));
    }
  }

  async function signedWebhook(command: string) {
    const body = JSON.stringify({ command });
    const id = `msg_${command}_${Date.now()}`;
    const at = new Date();
    const r = await fetch(`${deployed.fn.webhook.base}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': new Webhook(WEBHOOK_SECRET).sign(id, at, body),
      },
      body,
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  it('every function is ready under its own identity', async () => {
    for (const name of FUNCTIONS) {
      const r = await fetch(`${deployed.fn[name].base}/readyz`);
      assert.equal(r.status, 200, `${name}: ${await r.text()}\n${deployed.fn[name].output()}`);
    }
  });

  it('the trigger functions hand their steps to reconcile, which completes the rotation', async () => {
    await tickUntil(async () => (await newest())?.phase === 'Completed', 60_000); // baseline K1
    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });
    await waitForObservation(rekey, k2);

    const kms = await deliver(`${deployed.fn['kms-event'].base}/kms-event`, triggermeshEvent());
    assert.equal(kms.status, 200, `${kms.body}\n${outputs()}`);
    assert.deepEqual(
      [JSON.parse(kms.body).outcome, JSON.parse(kms.body).step.kind],
      ['rotation', 'handed-off'],
    );

    const report = eventFixture('apiserversource-ref-update-revision.json');
    const cluster = await deliver(`${deployed.fn['cluster-event'].base}/cluster-event`, {
      type: String(report.type),
      source: String(report.source),
      data: { ...(report.data as object), kind: 'ConfigMap', name: 'key-id-report-sandbox' },
    });
    assert.equal(cluster.status, 200, `${cluster.body}\n${outputs()}`);
    assert.equal(JSON.parse(cluster.body).step.kind, 'handed-off');

    const step = await signedWebhook('reconcile');
    assert.equal(step.status, 200, JSON.stringify(step.body));
    assert.equal((step.body.outcome as { kind: string }).kind, 'handed-off');

    await tickUntil(async () => {
      const r = await newest();
      return r?.keyIdHash === keyIdHash(k2) && (r.phase === 'Completed' || r.phase === 'Degraded');
    }, 240_000);
    const done = await newest();
    assert.equal(done?.phase, 'Completed', done?.lastError);
    assert.equal(done?.verification?.clean, true);
    assert.deepEqual(
      (await etcdSummary(sb.env)).rows.map((r) => r.keyID),
      [k2],
    );

    const requests = deployed.broker.events.filter((e) => e.type === 'dev.rekey.step.requested');
    assert.deepEqual(
      [...new Set(requests.map((e) => (e.data as { requestedBy: string }).requestedBy))].sort(),
      ['cluster-event', 'kms-event', 'webhook'],
    );
    const status = await signedWebhook('status');
    assert.equal(status.status, 200, JSON.stringify(status.body));
    const reported = status.body.status as { revisions: { phase: string }[] };
    assert.equal(reported.revisions[0]?.phase, 'Completed', 'the webhook reads status as itself');
    assert.doesNotMatch(outputs(), /forbidden/i, 'no function was refused a call');
  });

  it("a trigger function's identity cannot rewrite: its token is refused a patch", async () => {
    const api = deployed.fn['kms-event'].kubeconfig.makeApiClient(CoreV1Api);
    const err = await api
      .patchNamespacedSecret(
        { name: 'secret-0', namespace: 'own-id-0', body: { metadata: {} } },
        mergePatch,
      )
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number },
      );
    assert.equal(err?.code, 403, 'kms-event may not patch Secrets');
  });
});
