// End to end, as infra/ deploys rekey, on the real Knative tier: four processes from the
// functions' own entry points, each as its own ServiceAccount with a real token and exactly the
// RBAC of infra/base. The trigger functions hand their steps to reconcile
// (REKEY_STEP_MODE=delegate) through the real Broker: kms-event for an AWS rotation event the
// Broker routes to it (infra/overlays/aws's Trigger), cluster-event for the key-id report's change
// the ApiServerSource carries, webhook for a signed command; a rotation completes, proven from
// etcd. So the per-function grants are not only minimal (test/integration/infra-rbac.test.ts) but
// enough: any call a function makes that its identity may not would fail this rotation.
import '../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { Webhook } from 'standardwebhooks';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import {
  type Deployed,
  deployFunctions,
  FUNCTIONS,
  overlayTriggers,
} from '../support/deployed-functions.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { triggermeshEvent } from '../support/event-fixtures.ts';
import { publish } from '../support/knative/publish.ts';
import { coreApi, mergePatch } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';

const WEBHOOK_SECRET = `whsec_${Buffer.from('rekey e2e identities secret').toString('base64')}`;
describe('e2e: each function as its own least-privilege ServiceAccount', () => {
  let sb: TestSandbox;
  let deployed: Deployed;
  let rekey: RekeyUnderTest;

  before(async () => {
    sb = await startSandbox();
    await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 100, prefix: 'own-id' });
    deployed = await deployFunctions(sb.env, {
      settings: { webhook: { REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET } },
      triggers: [overlayTriggers('aws')],
      // the real PingSource, every 5 s instead of every minute: a gate that opens between steps
      // is taken up sooner
      tickSeconds: 5,
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
  const wholeLogs = () => FUNCTIONS.map((n) => deployed.fn[n].output(Infinity)).join('\n');

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
      const url = `${deployed.fn[name].base}/readyz`;
      // once more on a socket error: the pooled keep-alive connection of the start-up's health
      // probes may be closing on the server's side as this request goes out
      const r = await fetch(url).catch(() => fetch(url));
      assert.equal(r.status, 200, `${name}: ${await r.text()}\n${deployed.fn[name].output()}`);
    }
  });

  it('the trigger functions hand their steps to reconcile, which completes the rotation', async () => {
    // baseline K1: the reporters' reports and the ticks, as the Broker carries them
    await deployed.until(
      'the first revision to complete',
      async () => (await newest())?.phase === 'Completed',
      300_000,
    );
    const rotatedAt = Date.now();
    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });

    // the rotation event as TriggerMesh's EventBridge source sends it, to the Broker, which the
    // AWS overlay's Trigger routes to kms-event
    const kms = await publish(deployed.knative.brokerUrl, triggermeshEvent());
    assert.ok(kms >= 200 && kms < 300, `the Broker took the event: ${kms}`);

    // a CI job's signed command, to the webhook's own address
    const step = await signedWebhook('reconcile');
    assert.equal(step.status, 200, JSON.stringify(step.body));

    await deployed.until(
      'a revision for the new key, Completed or Degraded',
      async () => {
        const r = await newest();
        return (
          r?.keyIdHash === keyIdHash(k2) && (r.phase === 'Completed' || r.phase === 'Degraded')
        );
      },
      600_000,
    );
    const done = await newest();
    assert.equal(done?.phase, 'Completed', done?.lastError);
    assert.equal(done?.verification?.clean, true);
    assert.deepEqual(
      (await etcdSummary(sb.env)).rows.map((r) => r.keyID),
      [k2],
    );

    // each trigger function's step request went through the Broker (the ApiServerSource carried
    // the key-id report's change to cluster-event)
    await deployed.until(
      'step requests from cluster-event, kms-event and webhook on the Broker',
      async () =>
        ['cluster-event', 'kms-event', 'webhook'].every((who) =>
          deployed.requestedBy(rotatedAt).includes(who),
        ),
      60_000,
    );
    assert.deepEqual([...new Set(deployed.requestedBy(rotatedAt))].sort(), [
      'cluster-event',
      'kms-event',
      'webhook',
    ]);
    assert.ok(
      deployed.seen('dev.rekey.migration.completed', rotatedAt).length > 0,
      'reconcile announced the completion on the Broker',
    );
    const status = await signedWebhook('status');
    assert.equal(status.status, 200, JSON.stringify(status.body));
    const reported = status.body.status as { revisions: { phase: string }[] };
    assert.equal(reported.revisions[0]?.phase, 'Completed', 'the webhook reads status as itself');
    assert.doesNotMatch(wholeLogs(), /forbidden/i, 'no function was refused a call');
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
