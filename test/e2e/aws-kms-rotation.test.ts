// End to end with AWS semantics, on the real Knative tier: the sandbox plugins wrap DEK seeds
// through rekey's AWS adapter against the local AWS KMS endpoint and report
// `<KeyArn>#<CurrentKeyMaterialId>`, so an AWS on-demand rotation becomes a key_id change. Its
// EventBridge event (TriggerMesh form) is posted to the Broker, whose AWS overlay Trigger routes
// it to kms-event; kms-event notes the rotation and asks reconcile for a step through the Broker;
// rekey migrates everything under the new material and proves it from etcd. On Knative the
// key-id report's change also reaches cluster-event (ApiServerSource) and the PingSource ticks, so
// the event is not the only trigger: the test shows it did its part from state (the rotation
// noted with the new material, kms-event's step request on the Broker).
import '../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Webhook } from 'standardwebhooks';
import { createAwsKms } from '../../shared/adapters/aws-kms/index.ts';
import { assessConvergence } from '../../shared/domain/convergence.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { type AwsKmsServer, startAwsKmsServer } from '../support/aws-kms-server/server.ts';
import { type Deployed, overlayTriggers } from '../support/deployed-functions.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { publish } from '../support/knative/publish.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { serveRekey } from '../support/rekey-serve.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { type Seeded, seedMany } from '../support/seed.ts';

const credentials = { accessKeyId: 'rekey-test', secretAccessKey: 'rekey-test' };
const WEBHOOK_SECRET = `whsec_${Buffer.from('rekey e2e webhook secret').toString('base64')}`;

function asTriggerMesh(event: { id: string; 'detail-type': string }) {
  return {
    type: 'com.amazon.events.event',
    source: 'arn:aws:events:us-west-2:111122223333:event-bus/default',
    id: event.id,
    data: event,
    extensions: { awseventssource: 'aws.kms', awseventsdetailtype: event['detail-type'] },
  };
}

describe('e2e: AWS on-demand rotation on the local AWS KMS endpoint', () => {
  let aws: AwsKmsServer;
  let arn: string;
  let sb: TestSandbox;
  let served: Deployed;
  let rekey: RekeyUnderTest;
  let seeded: Seeded[];
  const kms = () => createAwsKms({ endpoint: aws.endpoint, region: aws.region, credentials });

  before(async () => {
    aws = await startAwsKmsServer({
      region: 'us-west-2',
      account: '111122223333',
      rotationDelayMs: 300,
    });
    const raw = new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials });
    arn =
      (await raw.send(new CreateKeyCommand({ Description: 'etcd KEK' }))).KeyMetadata?.Arn ?? '';
    raw.destroy();
    sb = await startSandbox({ pluginBackend: { kind: 'aws', endpoint: aws.endpoint, key: arn } });
    seeded = await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 100, prefix: 'aws' });
    served = await serveRekey(
      sb.env,
      {
        REKEY_KMS_KEY: arn,
        REKEY_AWS_ENDPOINT: aws.endpoint,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET,
      },
      // the real PingSource every 5 s instead of every minute, so waits between steps are short
      { triggers: [overlayTriggers('aws')], tickSeconds: 5 },
    );
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    await served?.stop();
    rekey?.close();
    await sb?.stop();
    await aws?.close();
  });

  async function newest() {
    const all = await rekey.deps.store.list(sb.env.kms.providerName);
    return all.map((s) => s.revision).sort((a, b) => b.number - a.number)[0];
  }

  /**
   * Waits, by reading state and never by stepping rekey, until every key-id report names `keyId`
   * and every apiserver writes with it: then the event's own step can record and migrate it.
   */
  async function adopted(keyId: string) {
    const provider = sb.env.kms.providerName;
    await waitFor(
      'every plugin to report the new material',
      async () => {
        const seen = await rekey.deps.observer.observe(provider);
        const ids = seen.observations.map((o) => o.keyId);
        return ids.length > 0 && ids.every((id) => id === keyId) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await waitFor(
      'every apiserver to adopt the new material',
      async () => {
        // what rekey itself does while it waits: ask each apiserver to re-check its plugin now
        await rekey.deps.adoption.hurry();
        const a = await rekey.deps.adoption.read();
        const verdict = assessConvergence({
          keyIdHash: keyIdHash(keyId),
          provider,
          liveApiservers: a.liveApiservers,
          samples: a.samples,
          metricsReadable: a.metricsReadable,
          kmsUnhealthy: a.kmsUnhealthy,
          observedAt: new Date(),
          now: new Date(),
        });
        return verdict.converged && verdict.via === 'metrics' ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
  }

  const notes = async () =>
    (await rekey.deps.store.list(sb.env.kms.providerName)).flatMap((s) =>
      s.revision.kmsRotation ? [s.revision.kmsRotation] : [],
    );
  const toBroker = (ev: Parameters<typeof publish>[1]) => publish(served.knative.brokerUrl, ev);

  it('re-encrypts everything under the new key material after its rotation event', async (t) => {
    const adapter = kms();
    const before1 = await adapter.keyIdentity(arn);
    await served.until(
      'the baseline revision to complete',
      async () => (await newest())?.phase === 'Completed',
      300_000,
    );
    assert.equal(
      (await newest())?.keyId,
      before1,
      'the baseline revision records <arn>#<material>',
    );
    const baseline = await newest();

    const material = await adapter.rotateOnDemand(arn, { pollMs: 100 });
    const after1 = `${arn}#${material}`;
    assert.notEqual(after1, before1);
    const event = aws.lastRotationEvent(arn);
    assert.ok(event, 'the endpoint produced the rotation event');

    // once the plugins report the new material, the event says a key_id changed
    await adopted(after1);
    const sentAt = Date.now();
    const status = await toBroker(asTriggerMesh(event));
    assert.ok(status >= 200 && status < 300, `the Broker took the event: ${status}`);

    await served.until(
      'a revision for the new material to complete',
      async () => {
        const n = await newest();
        return n?.keyId === after1 && n.phase === 'Completed';
      },
      600_000,
    );
    const done = await newest();
    assert.equal(done?.number, (baseline?.number ?? 0) + 1, 'one revision for the new material');
    assert.equal(done?.verification?.clean, true);
    const noted = (await notes()).filter((n) => n.materialId === material);
    assert.deepEqual(
      noted.map((n) => n.verdict),
      ['key-id-changed'],
      'kms-event noted the rotation to the new material',
    );
    assert.ok(served.requestedBy(sentAt).includes('kms-event'), 'and asked reconcile for a step');
    assert.ok(served.seen('dev.rekey.migration.slice').length > 0, 'carried on by continuations');
    const summary = await etcdSummary(sb.env);
    assert.deepEqual(
      summary.rows.map((row) => row.keyID),
      [after1],
      'every secret is under the new material in etcd',
    );
    const api = coreApi(sb.env);
    for (const s of seeded.slice(0, 20)) {
      const now = await api.readNamespacedSecret({ name: s.name, namespace: s.namespace });
      assert.equal(now.data?.value, s.value, 'data intact');
    }
    t.diagnostic(`key_id ${before1.slice(-12)} -> ${after1.slice(-12)}`);
    adapter.close();
  });

  it('a rotation event for a key the cluster does not use is unrelated and rewrites nothing', async () => {
    const before1 = await newest();
    const notesBefore = await notes();
    const event = structuredClone(aws.lastRotationEvent(arn)) as {
      id: string;
      'detail-type': string;
      resources: string[];
    };
    event.id = 'another-key';
    event.resources = [
      'arn:aws:kms:us-west-2:111122223333:key/00000000-1111-2222-3333-444444444444',
    ];
    const sentAt = Date.now();
    const status = await toBroker(asTriggerMesh(event));
    assert.ok(status >= 200 && status < 300, `the Broker took the event: ${status}`);
    // the ingress answers once every Trigger's subscriber has: kms-event has seen it
    assert.equal(served.seen('com.amazon.events.event', sentAt).length, 1);
    assert.ok(!served.requestedBy(sentAt).includes('kms-event'), 'no step was requested for it');
    const after1 = await newest();
    assert.deepEqual([after1?.name, after1?.keyId], [before1?.name, before1?.keyId]);
    assert.deepEqual(await notes(), notesBefore, 'nothing was noted');
  });

  it('a signed webhook "rotate" rotates the AWS key now, and the next steps migrate to it', async () => {
    const before1 = await newest();
    const body = JSON.stringify({ command: 'rotate' });
    const id = 'msg_rotate_1';
    const at = new Date();
    const signature = new Webhook(WEBHOOK_SECRET).sign(id, at, body);
    const r = await fetch(`${served.fn.webhook.base}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
    });
    assert.equal(r.status, 200, await r.text());
    // the KMS itself says which material is current now
    const adapter = kms();
    const target = await adapter.keyIdentity(arn);
    adapter.close();
    assert.notEqual(target, before1?.keyId, 'the webhook rotated the key');
    await served.until(
      'a revision for the rotated material to complete',
      async () => {
        const n = await newest();
        return n?.keyId === target && n.phase === 'Completed';
      },
      600_000,
    );
    assert.deepEqual(
      (await etcdSummary(sb.env)).rows.map((row) => row.keyID),
      [target],
    );
  });
});
